package vm

import (
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHostTools(t *testing.T) {
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: %s is not installed (iproute2): %v", tool, err)
		}
	}
	files, err := HostTools("ip", "tc")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	byPath := map[string]GuestFile{}
	for _, f := range files {
		t.Logf("%s <- %s (%o)", f.Path, f.Host, f.Mode)
		paths = append(paths, f.Path)
		byPath[f.Path] = f
		if path.IsAbs(f.Path) || f.Path != path.Clean(f.Path) || strings.HasPrefix(f.Path, "..") {
			t.Errorf("path %q is not clean and relative", f.Path)
		}
		if fi, err := os.Lstat(f.Host); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: host file %s is not a regular file (%v)", f.Path, f.Host, err)
		}
		if f.Mode != 0o755 {
			t.Errorf("%s: mode %o, want 755", f.Path, f.Mode)
		}
	}
	if !slices.IsSorted(paths) || len(slices.Compact(slices.Clone(paths))) != len(paths) {
		t.Errorf("paths not sorted and unique: %q", paths)
	}
	if len(files) < 5 {
		t.Errorf("%d files, want the two programs, their libraries and the interpreter", len(files))
	}

	// The interpreter at its PT_INTERP path, libbpf where the loader finds it.
	ipPath, _ := exec.LookPath("ip")
	f, err := elf.Open(ipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		t.Fatalf("%s has no PT_INTERP", ipPath)
	}
	if _, ok := byPath[strings.TrimPrefix(interp, "/")]; !ok {
		t.Errorf("interpreter %s missing", interp)
	}
	if _, ok := byPath[strings.TrimPrefix(filepath.Clean(ipPath), "/")]; !ok {
		t.Errorf("program %s missing", ipPath)
	}
	var libbpf bool
	for _, p := range paths {
		libbpf = libbpf || strings.HasPrefix(path.Base(p), "libbpf.so")
	}
	if !libbpf {
		t.Errorf("no libbpf among %q", paths)
	}

	// The same libraries as the loader's own listing (ldd), where the
	// loader found them in a directory the guest's loader searches too.
	for _, prog := range []string{"ip", "tc"} {
		p, _ := exec.LookPath(prog)
		out, err := exec.Command("ldd", p).Output()
		if err != nil {
			t.Logf("ldd %s: %v; skipping the comparison", p, err)
			continue
		}
		for line := range strings.Lines(string(out)) {
			var lib string
			if _, after, ok := strings.Cut(line, "=> "); ok {
				lib = strings.Fields(after)[0]
			} else if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
				lib = f[0]
			}
			if lib == "" {
				continue // linux-vdso
			}
			if _, ok := byPath[strings.TrimPrefix(lib, "/")]; !ok {
				t.Errorf("ldd %s: %s, not among the files", prog, lib)
			}
		}
	}
}

func TestHostToolsMissing(t *testing.T) {
	_, err := HostTools("dpforge-no-such-program")
	if err == nil || !strings.Contains(err.Error(), `"dpforge-no-such-program"`) {
		t.Errorf("got %v, want an error naming the program", err)
	}
}
