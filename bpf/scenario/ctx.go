package scenario

import (
	"fmt"
	"slices"
)

// Ctx holds the __sk_buff fields that BPF_PROG_TEST_RUN lets a caller set
// for a tc program, by their C names. A nil field is zero in input and not
// compared in an expectation.
//
// The kernel (net/bpf/test_run.c, convert___skb_to_skb) rejects a context
// with any other field set, and requires Ifindex to be 0, 1 (loopback) or an
// interface of the caller's network namespace; the packet is then received
// on that device. After the run it copies mark, priority, ingress_ifindex,
// ifindex, tstamp, cb, wire_len, gso_segs and hwtstamp back; gso_size keeps
// its input value.
type Ctx struct {
	Mark           *uint32 `yaml:"mark,omitempty"`
	Priority       *uint32 `yaml:"priority,omitempty"`
	IngressIfindex *uint32 `yaml:"ingress_ifindex,omitempty"`
	Ifindex        *uint32 `yaml:"ifindex,omitempty"`
	// CB holds up to 5 words of skb->cb; in an expectation only the words
	// listed are compared.
	CB       []uint32 `yaml:"cb,omitempty,flow"`
	Tstamp   *uint64  `yaml:"tstamp,omitempty"`
	WireLen  *uint32  `yaml:"wire_len,omitempty"`
	GSOSegs  *uint32  `yaml:"gso_segs,omitempty"`
	GSOSize  *uint32  `yaml:"gso_size,omitempty"`
	HWTstamp *uint64  `yaml:"hwtstamp,omitempty"`
}

// skbCtx mirrors struct __sk_buff of linux/bpf.h as of Linux 5.16 (192
// bytes). Blank fields are those the kernel requires to be zero; a kernel
// with a shorter __sk_buff accepts the longer struct as long as the extra
// tail is zero (bpf_ctx_init), so only setting hwtstamp needs 5.16.
type skbCtx struct {
	_              [2]uint32  // len, pkt_type
	Mark           uint32     // 8
	_              [5]uint32  // queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto
	Priority       uint32     // 32
	IngressIfindex uint32     // 36
	Ifindex        uint32     // 40
	_              uint32     // tc_index
	CB             [5]uint32  // 48
	_              [21]uint32 // hash ... data_meta, flow_keys (68..152)
	Tstamp         uint64     // 152
	WireLen        uint32     // 160
	GSOSegs        uint32     // 164
	_              uint64     // sk
	GSOSize        uint32     // 176
	_              uint32     // tstamp_type and padding
	HWTstamp       uint64     // 184
}

const skbCtxSize = 192

func (c *Ctx) skb() skbCtx {
	var s skbCtx
	if c == nil {
		return s
	}
	get32 := func(p *uint32) uint32 {
		if p == nil {
			return 0
		}
		return *p
	}
	get64 := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	s.Mark, s.Priority = get32(c.Mark), get32(c.Priority)
	s.IngressIfindex, s.Ifindex = get32(c.IngressIfindex), get32(c.Ifindex)
	copy(s.CB[:], c.CB)
	s.Tstamp, s.WireLen, s.GSOSegs = get64(c.Tstamp), get32(c.WireLen), get32(c.GSOSegs)
	s.GSOSize, s.HWTstamp = get32(c.GSOSize), get64(c.HWTstamp)
	return s
}

// ctxOf returns every field of s as a Ctx.
func ctxOf(s *skbCtx) *Ctx {
	return &Ctx{
		Mark: &s.Mark, Priority: &s.Priority, IngressIfindex: &s.IngressIfindex, Ifindex: &s.Ifindex,
		CB: slices.Clone(s.CB[:]), Tstamp: &s.Tstamp, WireLen: &s.WireLen, GSOSegs: &s.GSOSegs,
		GSOSize: &s.GSOSize, HWTstamp: &s.HWTstamp,
	}
}

// diff compares got with the fields want lists, returning one line per
// difference.
func (want *Ctx) diff(got *skbCtx) []string {
	var out []string
	check := func(name string, w *uint32, g uint32) {
		if w != nil && *w != g {
			out = append(out, fmt.Sprintf("%s: want %d, got %d", name, *w, g))
		}
	}
	check64 := func(name string, w *uint64, g uint64) {
		if w != nil && *w != g {
			out = append(out, fmt.Sprintf("%s: want %d, got %d", name, *w, g))
		}
	}
	check("mark", want.Mark, got.Mark)
	check("priority", want.Priority, got.Priority)
	check("ingress_ifindex", want.IngressIfindex, got.IngressIfindex)
	check("ifindex", want.Ifindex, got.Ifindex)
	for i, w := range want.CB {
		if i < len(got.CB) {
			check(fmt.Sprintf("cb[%d]", i), &w, got.CB[i])
		}
	}
	check64("tstamp", want.Tstamp, got.Tstamp)
	check("wire_len", want.WireLen, got.WireLen)
	check("gso_segs", want.GSOSegs, got.GSOSegs)
	check("gso_size", want.GSOSize, got.GSOSize)
	check64("hwtstamp", want.HWTstamp, got.HWTstamp)
	return out
}
