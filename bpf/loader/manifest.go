package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// VariantSpec reads the object of a manifest variant (its path is relative
// to dir, the manifest's directory), checks it against the hash the
// manifest records, and parses it.
func VariantSpec(dir string, v *manifest.Variant) (*ebpf.CollectionSpec, error) {
	obj, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(v.Object)))
	if err != nil {
		return nil, fmt.Errorf("reading variant %q: %w", v.ID, err)
	}
	sum := sha256.Sum256(obj)
	if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
		return nil, fmt.Errorf("reading variant %q: %s has sha256 %s, the manifest says %s (rebuild)", v.ID, v.Object, got, v.SHA256)
	}
	spec, err := ParseSpec(obj)
	if err != nil {
		return nil, fmt.Errorf("reading variant %q: %w", v.ID, err)
	}
	return spec, nil
}

// NodeSpec returns the spec of the variant a node of the manifest runs,
// with the node's load-time values and map sizes set.
func NodeSpec(dir string, m *manifest.Manifest, node string) (*ebpf.CollectionSpec, *manifest.Variant, error) {
	var n *manifest.Node
	for i := range m.Nodes {
		if m.Nodes[i].Name == node {
			n = &m.Nodes[i]
		}
	}
	if n == nil {
		return nil, nil, fmt.Errorf("node %q is not in the manifest", node)
	}
	v := m.Variant(n.Variant)
	if v == nil {
		return nil, nil, fmt.Errorf("node %q: variant %q is not in the manifest", node, n.Variant)
	}
	spec, err := VariantSpec(dir, v)
	if err != nil {
		return nil, nil, err
	}
	if err := SetValues(spec, n.Values); err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", node, err)
	}
	if err := SetMapSizes(spec, n.MapSizes); err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", node, err)
	}
	return spec, v, nil
}

// SetMapSizes sets the MaxEntries of spec's maps from a node's map sizes
// (the manifest's map_sizes: conntrack and NAT tables sized by Cilium's
// bpf-ct-global-*-max and bpf-nat-global-max). A size must be positive and
// name a map the object has; spec is changed only when all are valid.
func SetMapSizes(spec *ebpf.CollectionSpec, sizes map[string]uint32) error {
	for name, n := range sizes {
		if spec.Maps[name] == nil {
			return fmt.Errorf("setting map sizes: no map %q", name)
		}
		if n == 0 {
			return fmt.Errorf("setting map sizes: map %q: size 0", name)
		}
	}
	for name, n := range sizes {
		spec.Maps[name].MaxEntries = n
	}
	return nil
}
