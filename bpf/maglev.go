package bpf

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
)

// MaglevTable fills one service's Maglev lookup table: size slots, each
// naming one of backends (ids of [MapBackends]), so that every backend
// holds size/len(backends) slots give or take one, and adding or removing
// a backend moves few slots of the others (Eisenbud et al., "Maglev",
// NSDI 2016, section 3.4). The table depends only on the backend ids and
// the size, so every node computes the same one. Slot i goes to
// [MapMaglev] as MaglevKey{RevNATIndex, i} -> MaglevValue{BackendID}, with
// [VarMaglevTableSize] set to size.
func MaglevTable(backends []uint32, size uint32) ([]uint32, error) {
	if !prime(size) {
		return nil, fmt.Errorf("maglev table size %d: not a prime (the model allows Cilium's bpf-lb-maglev-table-size values)", size)
	}
	if len(backends) == 0 {
		return nil, fmt.Errorf("maglev table: no backends")
	}
	ids := slices.Clone(backends)
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		return nil, fmt.Errorf("maglev table: duplicate backend id")
	}
	m := uint64(size)
	offset := make([]uint64, len(ids))
	skip := make([]uint64, len(ids))
	for i, id := range ids {
		offset[i] = maglevHash(id, 0) % m
		skip[i] = maglevHash(id, 1)%(m-1) + 1
	}
	table := make([]uint32, size)
	filled := make([]bool, size)
	next := make([]uint64, len(ids))
	for n := uint32(0); n < size; {
		for i, id := range ids {
			// The backend's preference list is offset + j*skip mod m, a
			// permutation of the slots because m is prime.
			c := (offset[i] + next[i]*skip[i]) % m
			for filled[c] {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % m
			}
			table[c], filled[c] = id, true
			next[i]++
			if n++; n == size {
				break
			}
		}
	}
	return table, nil
}

// maglevHash is FNV-1a over the backend id and a seed byte.
func maglevHash(id uint32, seed byte) uint64 {
	h := fnv.New64a()
	var b [5]byte
	binary.BigEndian.PutUint32(b[:4], id)
	b[4] = seed
	h.Write(b[:])
	return h.Sum64()
}

func prime(n uint32) bool {
	if n < 2 {
		return false
	}
	for d := uint32(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
