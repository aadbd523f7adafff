package compile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"

	"github.com/dpforge/dpforge/generator/bindings"
	"github.com/dpforge/dpforge/generator/cache"
)

// derivedFormat versions the layout of what derive stores. The generators'
// code itself is keyed by the running executable's identity (selfID), so a
// new dpforge never reuses an old one's bindings.
const derivedFormat = 2

// selfID identifies the running executable: the sha256 of its file,
// remembered in the cache by the file's path, size, mtime and inode like a
// tool's --version. Empty if it cannot be read.
func (b *builder) selfID() string {
	b.selfOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			return
		}
		b.self, _ = b.cache.ToolOutput(exe, []string{"dpforge-self-sha256"}, func() (string, error) {
			data, err := os.ReadFile(exe)
			if err != nil {
				return "", err
			}
			return cache.SHA256Hex(data), nil
		})
	})
	return b.self
}

// derived is what a unit's object yields by pure functions: its API and each
// job's bindings package, with the embedded object stored as null.
type derived struct {
	API      bindings.API
	Bindings map[string]map[string][]byte // job id → file → content
	Types    []byte                       // the registry's types.go
}

// derive parses a unit's object and generates its jobs' bindings and the
// registry's types, or takes
// both from the cache, keyed by the object's hash, the jobs' ids and target
// and the generator's version. A no-op build then neither parses objects nor
// generates Go.
func (b *builder) derive(u *unit, obj []byte) (*bindings.API, map[string]map[string][]byte, []byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dpforge-derived %d %s\nself %s\nobject %s\ntarget %s %s\n", derivedFormat, bindings.EbpfVersion,
		b.selfID(), cache.SHA256Hex(obj), u.target.Suffix(), u.arches.Constraint())
	for _, j := range u.jobs {
		fmt.Fprintf(h, "job %q\n", j.ID)
	}
	key := hex.EncodeToString(h.Sum(nil))

	var d derived
	if !b.opts.VerifyCache && b.cache.GetDerived(key, &d) && len(d.Bindings) == len(u.jobs) {
		for _, files := range d.Bindings {
			for name, data := range files {
				if data == nil {
					files[name] = obj
				}
			}
		}
		return &d.API, d.Bindings, d.Types, nil
	}
	spec, a, err := bindings.Inspect(obj)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("variant %q: %w", u.jobs[0].ID, err)
	}
	types, err := bindings.Types(spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("variant %q: %w", u.jobs[0].ID, err)
	}
	d = derived{API: *a, Bindings: map[string]map[string][]byte{}, Types: types}
	byJob := map[string]map[string][]byte{}
	for _, j := range u.jobs {
		files, err := bindings.Variant(j.ID, u.target, u.arches, spec, obj)
		if err != nil {
			return nil, nil, nil, err
		}
		byJob[j.ID] = files
		// The embedded object is stored as null and put back on a hit.
		stored := maps.Clone(files)
		for name, data := range stored {
			if bytes.Equal(data, obj) {
				stored[name] = nil
			}
		}
		d.Bindings[j.ID] = stored
	}
	// Failing to store costs the next build time, not this one.
	b.cache.PutDerived(key, d)
	return a, byJob, types, nil
}
