package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// fakeBuild writes a manifest with one variant and its object into dir.
func fakeBuild(t *testing.T, dir string) {
	t.Helper()
	obj := []byte("not really an ELF object")
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "objects", "abc.o"), obj, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Variants: []manifest.Variant{{ID: "abc", Object: "objects/abc.o", SHA256: hexSum(obj), Size: int64(len(obj))}},
		Nodes: []manifest.Node{{Name: "n1", Variant: "abc"}}}
	data, err := manifest.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	fakeBuild(t, dir)
	exe := []byte("\x7fELF pretend executable")
	var a, b bytes.Buffer
	if err := WriteBundle(&a, exe, dir); err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(&b, exe, dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two bundles of the same build differ")
	}
	if !bytes.HasPrefix(a.Bytes(), exe) {
		t.Error("the bundle does not start with the executable")
	}
	path := filepath.Join(t.TempDir(), "dpload")
	if err := os.WriteFile(path, a.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := OpenBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := OpenBuild(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Source != "embedded" {
		t.Errorf("embedded build %s (%s), want %s (embedded)", got.ID, got.Source, want.ID)
	}
	if _, err := got.Object("abc"); err != nil {
		t.Errorf("reading the embedded object: %v", err)
	}
	if err := WriteBundle(&bytes.Buffer{}, a.Bytes(), dir); err == nil {
		t.Error("bundling a loader that already carries a build succeeded")
	}
	// A plain executable carries no build.
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, exe, 0o755)
	if b, err := OpenBundle(plain); b != nil || err != nil {
		t.Errorf("plain executable: build %v, error %v; want none", b, err)
	}
	// A truncated bundle is an error, not a panic.
	trunc := filepath.Join(t.TempDir(), "trunc")
	data := a.Bytes()
	os.WriteFile(trunc, append(slicesClone(data[:len(exe)+10]), data[len(data)-16:]...), 0o755)
	if _, err := OpenBundle(trunc); err == nil {
		t.Error("truncated bundle: no error")
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
