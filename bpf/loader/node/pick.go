package node

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
)

// Missing is a capability a variant needs and a kernel lacks, with the
// feature that needs it and how the kernel's answer is known.
type Missing struct {
	Capability features.Capability
	Feature    string
	How        string
}

func (m Missing) String() string {
	return fmt.Sprintf("%s needs %s (%s; %s)", m.Feature, m.Capability, features.CapabilityDoc(m.Capability), m.How)
}

// Requirements returns what v needs of a kernel that k lacks. A variant's
// needs are the kernel capabilities of every feature whose defines it
// carries, the instruction set its -mcpu emits, and frozen .rodata for the
// load-time values.
func Requirements(v *manifest.Variant, k features.Kernel) []Missing {
	var out []Missing
	need := func(c features.Capability, feature string) {
		if ok, how := k.Has(c); !ok {
			if !slices.ContainsFunc(out, func(m Missing) bool { return m.Capability == c }) {
				out = append(out, Missing{c, feature, how})
			}
		}
	}
	need(features.CapSchedCLS, "the datapath")
	need(features.CapRODataMap, "load-time values")
	switch v.CPU {
	case "v3":
		need(features.CapISAv3, "-mcpu=v3")
	case "v2":
		need(features.CapISAv2, "-mcpu=v2")
	}
	for _, f := range features.Features {
		carried := false
		for _, d := range f.Defines {
			if val, ok := v.Defines[d.Name]; ok && (d.Name != "TUNNEL_PROTOCOL" || val == d.Value) {
				carried = true
			}
		}
		if !carried {
			continue
		}
		for _, r := range f.Requires {
			if r.Cap != "" && r.When == "" {
				need(r.Cap, f.Name)
			}
		}
	}
	return out
}

// Choice is the variant picked for a node and why.
type Choice struct {
	Variant string
	Reason  string
}

// Routing is what an automatic pick must match besides the kernel: the
// cluster's routing mode, and whether the node has an overlay device.
type Routing struct {
	Tunnel  bool // tunnel routing (variants with TUNNEL_MODE), else native
	Overlay bool // an overlay device, which variants with HAVE_ENCAP need
}

// fits reports whether v runs in this routing: the same mode, and an
// overlay device if v sends through one (tunnel routing, and the egress
// gateway in native routing).
func (r Routing) fits(v *manifest.Variant) bool {
	_, tunnel := v.Defines["TUNNEL_MODE"]
	_, encap := v.Defines["HAVE_ENCAP"]
	return tunnel == r.Tunnel && (!encap || r.Overlay)
}

func (r Routing) String() string {
	switch {
	case r.Tunnel:
		return "tunnel"
	case r.Overlay:
		return "native-routing (with an overlay device)"
	}
	return "native-routing"
}

// Pick chooses the variant for a node of m on kernel k. Without auto it is
// the node's variant from the manifest, refused with the missing
// capabilities if k cannot run it. With auto it is the variant of the
// manifest with the most features that k can run and that fits the
// node's routing, among those whose values are set at load time (ties:
// the node's own variant, then the smallest id).
func Pick(m *manifest.Manifest, node string, k features.Kernel, auto bool, routing Routing) (Choice, error) {
	var own string
	for _, n := range m.Nodes {
		if n.Name == node {
			own = n.Variant
		}
	}
	if !auto {
		if own == "" {
			return Choice{}, fmt.Errorf("node %q is not in the manifest (use --auto to pick by kernel)", node)
		}
		v := m.Variant(own)
		if v == nil {
			return Choice{}, fmt.Errorf("node %q: variant %q is not in the manifest", node, own)
		}
		if miss := Requirements(v, k); len(miss) > 0 {
			return Choice{}, fmt.Errorf("node %q: variant %s cannot run on kernel %s: %s", node, own, k, joinMissing(miss))
		}
		return Choice{own, fmt.Sprintf("the manifest's variant for node %q", node)}, nil
	}
	best, bestN := "", -1
	var refused []string
	skipped := 0
	for i := range m.Variants {
		v := &m.Variants[i]
		if _, static := v.Defines[features.StaticConfigDefine]; static || !routing.fits(v) {
			// A variant with compiled-in values carries its own nodes'
			// addresses, MTU and ports: it is chosen by node name only.
			skipped++
			continue
		}
		if miss := Requirements(v, k); len(miss) > 0 {
			refused = append(refused, fmt.Sprintf("%s: %s", v.ID, joinMissing(miss)))
			continue
		}
		n := len(v.Defines)
		if n > bestN || (n == bestN && v.ID == own) {
			best, bestN = v.ID, n
		}
	}
	mode := routing.String()
	if best == "" {
		return Choice{}, fmt.Errorf("no %s variant of the build runs on kernel %s: %s", mode, k, strings.Join(refused, "; "))
	}
	v := m.Variant(best)
	var defs []string
	for d := range v.Defines {
		defs = append(defs, d)
	}
	slices.Sort(defs)
	return Choice{best, fmt.Sprintf("the %s variant with the most features (%d: %s) that kernel %s can run; %d other %s variants cannot",
		mode, bestN, strings.Join(defs, " "), k, len(refused), mode)}, nil
}

func joinMissing(ms []Missing) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.String())
	}
	return strings.Join(s, ", ")
}
