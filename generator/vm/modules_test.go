package vm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fakeRelease = "6.1.0-99-amd64"

// fakeModule returns a relocatable ELF file with only a .modinfo section
// holding the given key=value strings, as a kernel module has.
func fakeModule(info ...string) []byte {
	modinfo := []byte(strings.Join(info, "\x00") + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := ehsize
	strOff := modOff + len(modinfo)
	shOff := (strOff + len(shstrtab) + 7) &^ 7
	b := make([]byte, shOff+3*shentsize)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // 64-bit, little endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 1)  // ET_REL
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[40:], uint64(shOff))
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[58:], shentsize)
	le.PutUint16(b[60:], 3) // section headers
	le.PutUint16(b[62:], 2) // .shstrtab's index
	copy(b[modOff:], modinfo)
	copy(b[strOff:], shstrtab)
	section := func(i int, name, typ uint32, off, size int) {
		h := b[shOff+i*shentsize:]
		le.PutUint32(h[0:], name)
		le.PutUint32(h[4:], typ)
		le.PutUint64(h[24:], uint64(off))
		le.PutUint64(h[32:], uint64(size))
		le.PutUint64(h[48:], 1)
	}
	section(1, 1, 1, modOff, len(modinfo))   // .modinfo, SHT_PROGBITS
	section(2, 10, 3, strOff, len(shstrtab)) // .shstrtab, SHT_STRTAB
	return b
}

func fakeModuleOf(name, depends string) []byte {
	return fakeModule("alias=fake-"+name, "depends="+depends, "name="+name, "vermagic="+fakeRelease+" SMP preempt mod_unload modversions ")
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// stagedKernel stages a fake package's modules and keeps what names need,
// as Fetch does, and returns the kernel of that entry.
func stagedKernel(t *testing.T, names []string, files map[string][]byte, builtin []byte) (*Kernel, error) {
	t.Helper()
	dir := t.TempDir()
	s := moduleStage{dir: filepath.Join(dir, "stage"), builtin: builtin}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if err := s.add("linux-image-fake", rel, files[rel]); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.keep(t.Context(), fakeRelease, names, filepath.Join(dir, "modules"))
	if err != nil {
		return nil, err
	}
	if err := checkModules(dir, rec); err != nil {
		t.Fatal(err)
	}
	return &Kernel{Release: fakeRelease, dir: dir, modules: rec}, nil
}

// fakePackage is a module tree: a needs b and c, b needs c, d needs e-x
// (file e-x.ko, module e_x), f is there but not asked for, and builtin_one
// is built in.
var fakePackage = map[string][]byte{
	"kernel/net/a/a.ko":       fakeModuleOf("a", "b,c"),
	"kernel/net/b/b.ko.gz":    gzipped(fakeModuleOf("b", "c")),
	"kernel/lib/c.ko":         fakeModuleOf("c", ""),
	"kernel/drivers/net/d.ko": fakeModuleOf("d", "e_x"),
	"kernel/lib/e-x.ko.gz":    gzipped(fakeModuleOf("e_x", "")),
	"kernel/lib/f.ko":         fakeModuleOf("f", ""),
	"modules.order.ko.junk":   []byte("not a module"),
}

func TestModuleFilesOrder(t *testing.T) {
	k, err := stagedKernel(t, []string{"a", "d", "builtin-one", "nosuch"}, fakePackage, []byte("kernel/net/builtin_one.ko\nkernel/net/other.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, m := range k.modules.Kept {
		kept = append(kept, m.Name)
	}
	if want := []string{"a", "b", "c", "d", "e_x"}; !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if k.modules.Available != 6 || k.modules.Builtin != 2 || !k.modules.HasBuiltin {
		t.Errorf("record %+v: want 6 available, 2 built in", k.modules)
	}
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		{[]string{"a"}, []string{"kernel/lib/c.ko", "kernel/net/b/b.ko", "kernel/net/a/a.ko"}},
		{[]string{"d", "a", "c"}, []string{"kernel/lib/e-x.ko", "kernel/drivers/net/d.ko", "kernel/lib/c.ko", "kernel/net/b/b.ko", "kernel/net/a/a.ko"}},
		{[]string{"c", "a", "a"}, []string{"kernel/lib/c.ko", "kernel/net/b/b.ko", "kernel/net/a/a.ko"}},
		{[]string{"builtin_one", "e-x"}, []string{"kernel/lib/e-x.ko"}},
		{[]string{"builtin-one"}, nil},
	} {
		files, err := k.ModuleFiles(tc.names)
		if err != nil {
			t.Errorf("ModuleFiles(%q): %v", tc.names, err)
			continue
		}
		var got []string
		for _, f := range files {
			rel, ok := strings.CutPrefix(f.Path, "lib/modules/"+fakeRelease+"/")
			if !ok {
				t.Errorf("path %q not under lib/modules/%s", f.Path, fakeRelease)
			}
			got = append(got, rel)
			if f.Mode != 0o644 {
				t.Errorf("%s: mode %o", f.Path, f.Mode)
			}
			// Decompressed: the host file is the ELF module.
			data, err := os.ReadFile(f.Host)
			if err != nil {
				t.Fatal(err)
			}
			info, err := modinfo(data)
			if err != nil {
				t.Errorf("%s: %v", f.Host, err)
			} else if want := strings.TrimSuffix(filepath.Base(rel), ".ko"); info["name"] != strings.ReplaceAll(want, "-", "_") {
				t.Errorf("%s: name=%q", f.Host, info["name"])
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ModuleFiles(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

func TestModuleFilesErrors(t *testing.T) {
	k, err := stagedKernel(t, []string{"a"}, fakePackage, []byte("kernel/net/builtin_one.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		{[]string{"nosuch"}, []string{`kernel ` + fakeRelease + ` has no module "nosuch", neither built in nor as a module`}},
		{[]string{"f"}, []string{`module "f" is not in the cache`}},
		// Every problem, not the first.
		{[]string{"a", "nosuch", "other"}, []string{`"nosuch"`, `"other"`}},
	} {
		_, err := k.ModuleFiles(tc.names)
		if err == nil {
			t.Errorf("ModuleFiles(%q) did not fail", tc.names)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ModuleFiles(%q): %v, want it to say %s", tc.names, err, w)
			}
		}
	}

	// Without modules.builtin, a name that is not a module cannot be told
	// from a built-in one: an error that says so.
	k, err = stagedKernel(t, []string{"a"}, fakePackage, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ModuleFiles([]string{"builtin_one"}); err == nil || !strings.Contains(err.Error(), "do not say which modules are built in") {
		t.Errorf("without modules.builtin: %v", err)
	}

	cyclic := &Kernel{Release: fakeRelease, dir: t.TempDir(), modules: &modulesRecord{Kept: []moduleRecord{
		{Name: "x", Path: "x.ko", Depends: []string{"y"}}, {Name: "y", Path: "y.ko", Depends: []string{"x"}},
	}}}
	if _, err := cyclic.ModuleFiles([]string{"x"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	none := &Kernel{Release: fakeRelease, modules: &modulesRecord{Unavailable: "package linux-modules-x is not in the package index"}}
	if _, err := none.ModuleFiles(TrafficModules); err == nil || !strings.Contains(err.Error(), "linux-modules-x is not in the package index") {
		t.Errorf("unavailable: %v", err)
	}
	if _, err := (&Kernel{Release: fakeRelease}).ModuleFiles(TrafficModules); err == nil {
		t.Error("a kernel without a record gave modules")
	}

	// A module of another release, or calling itself otherwise, is refused
	// when the entry is built.
	bad := map[string][]byte{"kernel/a.ko": fakeModule("name=a", "vermagic=6.1.0-98-amd64 SMP")}
	if _, err := stagedKernel(t, []string{"a"}, bad, nil); err == nil || !strings.Contains(err.Error(), "vermagic") {
		t.Errorf("wrong vermagic: %v", err)
	}
	bad = map[string][]byte{"kernel/a.ko": fakeModule("name=b", "vermagic="+fakeRelease)}
	if _, err := stagedKernel(t, []string{"a"}, bad, nil); err == nil || !strings.Contains(err.Error(), `calls itself "b"`) {
		t.Errorf("wrong name: %v", err)
	}
	bad = map[string][]byte{"kernel/a.ko": []byte("not ELF")}
	if _, err := stagedKernel(t, []string{"a"}, bad, nil); err == nil {
		t.Error("a module that is no ELF file was kept")
	}
}

// TestDebContents reads a package built with dpkg-deb as Fetch reads the
// kernel packages.
func TestDebContents(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skipf("SKIPPED: no dpkg-deb: %v", err)
	}
	root := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(root, "pkg", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("DEBIAN/control", []byte("Package: linux-image-fake\nVersion: 1\nArchitecture: amd64\nMaintainer: x <x@example.org>\nDescription: fake\n"))
	write("boot/config-"+fakeRelease, []byte("CONFIG_FAKE=y\n"))
	write("boot/vmlinuz-"+fakeRelease, []byte("image"))
	modDir := "usr/lib/modules/" + fakeRelease + "/"
	write(modDir+"modules.builtin", []byte("kernel/net/builtin_one.ko\n"))
	write(modDir+"modules.order", []byte("kernel/net/a/a.ko\n"))
	for rel, data := range fakePackage {
		write(modDir+rel, data)
	}
	write("lib/modules/"+fakeRelease+"-other/kernel/z.ko", fakeModuleOf("z", ""))
	deb := filepath.Join(root, "fake.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", filepath.Join(root, "pkg"), deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	c := debContents{stage: moduleStage{dir: filepath.Join(root, "stage")}}
	if err := c.add(t.Context(), deb, "linux-image-fake", fakeRelease); err != nil {
		t.Fatal(err)
	}
	if string(c.image) != "image" || string(c.config) != "CONFIG_FAKE=y\n" || c.configFrom != "linux-image-fake" {
		t.Errorf("image %q, config %q from %q", c.image, c.config, c.configFrom)
	}
	if string(c.stage.builtin) != "kernel/net/builtin_one.ko\n" {
		t.Errorf("builtin %q", c.stage.builtin)
	}
	var names []string
	for n := range c.stage.files {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"a", "b", "c", "d", "e_x", "f"}; !slices.Equal(names, want) {
		t.Errorf("staged %q, want %q", names, want)
	}
	if c.stage.files["b"] != "kernel/net/b/b.ko.gz" {
		t.Errorf("b staged as %q", c.stage.files["b"])
	}
	if !slices.Equal(c.stage.packages, []string{"linux-image-fake"}) {
		t.Errorf("packages %q", c.stage.packages)
	}
}

// TestModulesVM fetches the kernels of DPFORGE_VM_KERNELS and checks the
// modules the traffic suite needs: each file the module it claims to be,
// of the kernel's release, after the modules it depends on.
func TestModulesVM(t *testing.T) {
	series := vmKernels(t)
	if err := EnsureTools(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		t.Run(s, func(t *testing.T) {
			k, err := Fetch(t.Context(), s, "")
			if err != nil {
				t.Fatalf("Fetch: %+v", err)
			}
			if k.modules.Unavailable != "" {
				t.Skipf("SKIPPED: kernel %s has no modules to check: %s", k.Release, k.modules.Unavailable)
			}
			files, err := k.ModuleFiles(TrafficModules)
			if err != nil {
				t.Fatal(err)
			}
			builtin, err := readModuleList(filepath.Join(k.dir, "modules", modulesBuiltinFile))
			if err != nil {
				t.Fatal(err)
			}
			loaded := map[string]bool{}
			var total int64
			for _, f := range files {
				data, err := os.ReadFile(f.Host)
				if err != nil {
					t.Fatal(err)
				}
				total += int64(len(data))
				info, err := modinfo(data)
				if err != nil {
					t.Fatalf("%s: %v", f.Host, err)
				}
				_, name, compression, _ := splitModulePath(f.Path)
				if compression != "" || !strings.HasPrefix(f.Path, "lib/modules/"+k.Release+"/kernel/") {
					t.Errorf("path %q", f.Path)
				}
				if info["name"] != name {
					t.Errorf("%s: .modinfo name=%q, want %q", f.Path, info["name"], name)
				}
				if v := strings.Fields(info["vermagic"]); len(v) == 0 || v[0] != k.Release {
					t.Errorf("%s: vermagic %q, want release %s", f.Path, info["vermagic"], k.Release)
				}
				for _, d := range strings.Split(info["depends"], ",") {
					if d != "" && !loaded[moduleName(d)] && !builtin[moduleName(d)] {
						t.Errorf("%s comes before %s, which it depends on", name, d)
					}
				}
				loaded[name] = true
				t.Logf("%-12s %7d bytes  depends=%q", name, len(data), info["depends"])
			}
			for _, m := range TrafficModules {
				if !loaded[m] && !builtin[m] {
					t.Errorf("%s neither loaded nor built in", m)
				}
				if builtin[m] {
					t.Logf("%s is built in", m)
				}
			}
			t.Logf("kernel %s: %d modules, %d bytes, from %s (%q compression; %d modules in the package, %d built in)",
				k.Release, len(files), total, strings.Join(k.modules.Packages, ", "), k.modules.Compression, k.modules.Available, k.modules.Builtin)
		})
	}
}

// TestLoadKernelEntryModules: an entry written before modules were kept is
// not used (Fetch builds it again), nor one whose module does not match
// its record.
func TestLoadKernelEntryModules(t *testing.T) {
	k, err := stagedKernel(t, []string{"a"}, fakePackage, nil)
	if err != nil {
		t.Fatal(err)
	}
	vmlinux := []byte("\x7fELF fake vmlinux")
	sum := sha256.Sum256(vmlinux)
	rec := kernelRecord{Format: kernelFormat, Kernel: Kernel{Release: fakeRelease}, VmlinuxSHA256: hex.EncodeToString(sum[:]), VmlinuxSize: int64(len(vmlinux))}
	write := func(rec kernelRecord) {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(k.dir, "kernel.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(k.dir, "vmlinux"), vmlinux, 0o644); err != nil {
		t.Fatal(err)
	}
	write(rec)
	if _, err := loadKernelEntry(k.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("entry without modules: %v, want fs.ErrNotExist", err)
	}
	rec.Modules = k.modules
	write(rec)
	got, err := loadKernelEntry(k.dir)
	if err != nil {
		t.Fatalf("entry with modules: %v", err)
	}
	if files, err := got.ModuleFiles([]string{"a"}); err != nil || len(files) != 3 {
		t.Errorf("ModuleFiles of the loaded entry: %v, %v", files, err)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "modules", "kernel", "lib", "c.ko"), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKernelEntry(k.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("entry with a damaged module: %v, want fs.ErrNotExist", err)
	}
}
