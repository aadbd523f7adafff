package node

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
)

// Build is one dpforge build as a node sees it: a manifest and the objects
// it names, read from a build directory or from a loader's embedded copy.
type Build struct {
	// Source says where the build came from: a directory or "embedded".
	Source   string
	Manifest *manifest.Manifest
	// ID is the sha256 of the manifest file, shortened: two builds with
	// the same ID have the same objects.
	ID   string
	fsys fs.FS
}

// OpenBuild reads the build in dir (manifest.json and objects/).
func OpenBuild(dir string) (*Build, error) {
	return NewBuild(os.DirFS(dir), dir)
}

// NewBuild reads a build from fsys, whose root holds manifest.json.
func NewBuild(fsys fs.FS, source string) (*Build, error) {
	data, err := fs.ReadFile(fsys, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("reading build %s: %w", source, err)
	}
	m, err := manifest.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("reading build %s: %w", source, err)
	}
	sum := sha256.Sum256(data)
	return &Build{Source: source, Manifest: m, ID: hex.EncodeToString(sum[:6]), fsys: fsys}, nil
}

// Node returns the manifest entry of a node, or an error naming the nodes
// the build has.
func (b *Build) Node(name string) (*manifest.Node, error) {
	for i := range b.Manifest.Nodes {
		if b.Manifest.Nodes[i].Name == name {
			return &b.Manifest.Nodes[i], nil
		}
	}
	var names []string
	for _, n := range b.Manifest.Nodes {
		names = append(names, n.Name)
	}
	return nil, fmt.Errorf("node %q is not in build %s (it has %q)", name, b.ID, names)
}

// Object returns a variant's object file, checked against the manifest's
// sha256.
func (b *Build) Object(id string) ([]byte, error) {
	v := b.Manifest.Variant(id)
	if v == nil {
		return nil, fmt.Errorf("variant %q is not in build %s", id, b.ID)
	}
	obj, err := fs.ReadFile(b.fsys, path.Clean(v.Object))
	if err != nil {
		return nil, fmt.Errorf("reading variant %q: %w", id, err)
	}
	sum := sha256.Sum256(obj)
	if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
		return nil, fmt.Errorf("variant %q: %s has sha256 %s, the manifest says %s", id, v.Object, got, v.SHA256)
	}
	return obj, nil
}

// Spec parses a variant's object.
func (b *Build) Spec(id string) (*ebpf.CollectionSpec, error) {
	obj, err := b.Object(id)
	if err != nil {
		return nil, err
	}
	spec, err := loader.ParseSpec(obj)
	if err != nil {
		return nil, fmt.Errorf("variant %q: %w", id, err)
	}
	return spec, nil
}
