package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dpforge/dpforge/generator/atomicfile"
)

// GuestFile is a file to put into the guest's initramfs.
type GuestFile struct {
	// Path is the file's path inside the guest: relative, slash-separated,
	// no leading slash, e.g. "lib/modules/6.1.0-57-amd64/kernel/drivers/net/veth.ko".
	Path string
	// Mode is 0o755 for programs and shared libraries, 0o644 for modules.
	Mode os.FileMode
	// Host is the regular file on this machine holding the content
	// (a module already decompressed).
	Host string
}

// TrafficModules are the modules the two-node traffic suite needs in the
// guest, by module name: veth pairs into the pods, a bridge joining the
// nodes, VXLAN and Geneve devices in collect-metadata ("external") mode,
// the clsact qdisc (in sch_ingress) with direct-action cls_bpf filters, and
// sch_fq for the bandwidth manager's pacing. Debian builds all of them as
// modules. Their dependencies (stp and llc for the bridge, udp_tunnel and
// ip6_udp_tunnel for the tunnels) come from the modules' own records; the
// rest of the topology (IPv6, AF_PACKET, TCX, netkit, the mq and default
// qdiscs) is built in. The guest has no modprobe, so whatever the kernel
// would load on demand must be loaded beforehand: this is that list.
var TrafficModules = []string{"veth", "bridge", "vxlan", "geneve", "sch_fq", "sch_ingress", "cls_bpf"}

// Files of an entry's modules directory besides the modules themselves.
const (
	// modulesBuiltinFile is the package's modules.builtin, as shipped:
	// one line per built-in module, kernel/net/core/foo.ko.
	modulesBuiltinFile = "modules.builtin"
	// modulesAvailableFile lists every module of the package in the same
	// form (the compression suffix dropped), sorted: it tells a module
	// the cache did not keep from one the kernel does not have.
	modulesAvailableFile = "modules.available"
)

// modulesRecord is the modules part of kernel.json.
type modulesRecord struct {
	// Packages are the packages the modules and modules.builtin came from.
	Packages []string `json:"packages,omitempty"`
	// Compression is how the package compresses its modules: "" (plain
	// .ko, up to 6.1), "xz" (6.12 and newer), "zstd" or "gzip".
	Compression string `json:"compression,omitempty"`
	// Unavailable says why the entry has no modules at all, e.g. the
	// modules package is missing from the index; "" if it has them.
	Unavailable string `json:"unavailable,omitempty"`
	// Available and Builtin count the modules the package has and the
	// ones built into the kernel; HasBuiltin says whether the packages
	// had a modules.builtin.
	Available  int  `json:"available"`
	Builtin    int  `json:"builtin"`
	HasBuiltin bool `json:"has_builtin"`
	// Kept are the modules the entry stores decompressed (TrafficModules
	// and their dependencies), sorted by name.
	Kept []moduleRecord `json:"kept,omitempty"`
}

// moduleRecord is one module the entry keeps.
type moduleRecord struct {
	Name string `json:"name"`
	// Path is under lib/modules/<release>/ and under the entry's modules
	// directory, without compression suffix: kernel/net/bridge/bridge.ko.
	Path string `json:"path"`
	// Depends are the modules it needs loaded first (its .modinfo
	// "depends=", which depmod turns into modules.dep).
	Depends []string `json:"depends,omitempty"`
	Size    int64    `json:"size"`
	SHA256  string   `json:"sha256"`
}

// ErrNoModules is ModuleFiles' error for a kernel whose modules could not be
// had: the package index lists its image but not its modules package.
var ErrNoModules = errors.New("the package index has none of its modules")

// ModuleFiles returns the named modules of k and every module they depend
// on, decompressed, in an order in which finit_module can load them one
// after another: dependencies first, each module once. A module the kernel
// has built in (its modules.builtin) is left out silently. A name the
// kernel has neither built in nor as a module is an error naming it and the
// release, as is a module the cache did not keep (Fetch keeps
// TrafficModules and their dependencies) or a kernel whose modules the
// package index did not have. Names may use "-" or "_".
func (k *Kernel) ModuleFiles(names []string) ([]GuestFile, error) {
	m := k.modules
	if m == nil {
		return nil, fmt.Errorf("kernel %s: no module record (only kernels from Fetch or Cached have one)", k.Release)
	}
	if m.Unavailable != "" {
		return nil, fmt.Errorf("kernel %s: %w: %s", k.Release, ErrNoModules, m.Unavailable)
	}
	kept := map[string]moduleRecord{}
	for _, r := range m.Kept {
		kept[r.Name] = r
	}
	var builtin, available map[string]bool // read when needed
	var out []GuestFile
	state := map[string]int{} // 1: being visited, 2: done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("kernel %s: modules depend on each other in a cycle through %q", k.Release, name)
		case 2:
			return nil
		}
		r, ok := kept[name]
		if !ok {
			if builtin == nil {
				var err error
				if builtin, err = readModuleList(filepath.Join(k.dir, "modules", modulesBuiltinFile)); err != nil && !(errors.Is(err, fs.ErrNotExist) && !m.HasBuiltin) {
					return fmt.Errorf("kernel %s: %w", k.Release, err)
				}
				if available, err = readModuleList(filepath.Join(k.dir, "modules", modulesAvailableFile)); err != nil {
					return fmt.Errorf("kernel %s: %w", k.Release, err)
				}
			}
			switch {
			case builtin[name]:
				state[name] = 2
				return nil
			case available[name]:
				return fmt.Errorf("kernel %s: module %q is not in the cache (Fetch keeps vm.TrafficModules and what they depend on)", k.Release, name)
			case !m.HasBuiltin:
				return fmt.Errorf("kernel %s has no module %q, and its packages do not say which modules are built in", k.Release, name)
			}
			return fmt.Errorf("kernel %s has no module %q, neither built in nor as a module", k.Release, name)
		}
		state[name] = 1
		for _, d := range r.Depends {
			if err := visit(d); err != nil {
				return fmt.Errorf("%w (needed by %q)", err, name)
			}
		}
		state[name] = 2
		out = append(out, GuestFile{
			Path: path.Join("lib/modules", k.Release, r.Path),
			Mode: 0o644,
			Host: filepath.Join(k.dir, "modules", filepath.FromSlash(r.Path)),
		})
		return nil
	}
	var errs []error
	for _, n := range names {
		if err := visit(moduleName(n)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// moduleName normalizes a module name as the kernel does: "-" and "_" are
// the same, and the name is stored with "_".
func moduleName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// moduleSuffixes maps the endings of module files to the compression of
// bzimage.go's table that undoes them ("" for none).
var moduleSuffixes = []struct{ suffix, compression string }{
	{".ko", ""}, {".ko.xz", "xz"}, {".ko.zst", "zstd"}, {".ko.gz", "gzip"},
}

// splitModulePath returns a module file's path without its compression
// suffix, the module's name and the compression, or ok false for a file
// that is not a module.
func splitModulePath(p string) (plain, name, compression string, ok bool) {
	for _, s := range moduleSuffixes {
		if strings.HasSuffix(p, s.suffix) {
			plain = strings.TrimSuffix(p, s.suffix) + ".ko"
			return plain, moduleName(strings.TrimSuffix(path.Base(plain), ".ko")), s.compression, true
		}
	}
	return "", "", "", false
}

// readModuleList reads a list in the form of modules.builtin (a module's
// path per line) as a set of module names.
func readModuleList(file string) (map[string]bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseModuleList(b), nil
}

func parseModuleList(b []byte) map[string]bool {
	set := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if _, name, _, ok := splitModulePath(strings.TrimSpace(line)); ok {
			set[name] = true
		}
	}
	return set
}

// moduleStage is the modules of a release's packages while Fetch builds an
// entry: every module file, still compressed, under dir at its path below
// lib/modules/<release>/.
type moduleStage struct {
	dir string
	// files maps a module's name to its path under dir.
	files map[string]string
	// compression is the packages' module compression.
	compression string
	// builtin is the packages' modules.builtin, nil if they had none.
	builtin  []byte
	packages []string
}

// add stages one module file of pkg at rel, its path under the modules
// directory.
func (s *moduleStage) add(pkg, rel string, data []byte) error {
	_, name, compression, ok := splitModulePath(rel)
	if !ok {
		return nil
	}
	if old, dup := s.files[name]; dup {
		return fmt.Errorf("module %q is both %s and %s", name, old, rel)
	}
	if s.files == nil {
		s.files = map[string]string{}
	}
	if len(s.files) == 0 {
		s.compression = compression
	}
	dst := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return err
	}
	s.files[name] = rel
	s.addPackage(pkg)
	return nil
}

func (s *moduleStage) addPackage(pkg string) {
	if !slices.Contains(s.packages, pkg) {
		s.packages = append(s.packages, pkg)
	}
}

// keep decompresses the named modules and their dependencies from the
// stage into dst (an entry's modules directory), writes the lists of
// available and built-in modules beside them and returns the record. A
// name that is built in or missing is skipped: ModuleFiles reports it when
// asked. Each module's .modinfo must name it and carry the release's
// vermagic.
func (s *moduleStage) keep(ctx context.Context, release string, names []string, dst string) (*modulesRecord, error) {
	rec := &modulesRecord{Packages: s.packages, Compression: s.compression, Available: len(s.files), HasBuiltin: s.builtin != nil}
	builtin := parseModuleList(s.builtin)
	rec.Builtin = len(builtin)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	var plain []string
	for _, rel := range s.files {
		p, _, _, _ := splitModulePath(rel)
		plain = append(plain, p+"\n")
	}
	slices.Sort(plain)
	if err := atomicfile.WriteFile(filepath.Join(dst, modulesAvailableFile), []byte(strings.Join(plain, "")), 0o644); err != nil {
		return nil, err
	}
	if s.builtin != nil {
		if err := atomicfile.WriteFile(filepath.Join(dst, modulesBuiltinFile), s.builtin, 0o644); err != nil {
			return nil, err
		}
	}

	queue := slices.Clone(names)
	seen := map[string]bool{}
	for len(queue) > 0 {
		name := moduleName(queue[0])
		queue = queue[1:]
		if seen[name] || builtin[name] {
			continue
		}
		seen[name] = true
		rel, ok := s.files[name]
		if !ok {
			continue
		}
		r, err := s.decompress(ctx, release, name, rel, dst)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", rel, err)
		}
		rec.Kept = append(rec.Kept, r)
		queue = append(queue, r.Depends...)
	}
	slices.SortFunc(rec.Kept, func(a, b moduleRecord) int { return strings.Compare(a.Name, b.Name) })
	return rec, nil
}

// decompress writes one staged module, decompressed, under dst and checks
// its .modinfo.
func (s *moduleStage) decompress(ctx context.Context, release, name, rel, dst string) (moduleRecord, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return moduleRecord{}, err
	}
	plain, _, compression, _ := splitModulePath(rel)
	if compression != "" {
		c := compressionNamed(compression)
		var out bytes.Buffer
		if err := c.decompress(ctx, data, &out); err != nil {
			return moduleRecord{}, fmt.Errorf("decompressing %s: %w", compression, err)
		}
		data = out.Bytes()
	}
	info, err := modinfo(data)
	if err != nil {
		return moduleRecord{}, err
	}
	if info["name"] != "" && info["name"] != name {
		return moduleRecord{}, fmt.Errorf("file of module %q calls itself %q", name, info["name"])
	}
	if f := strings.Fields(info["vermagic"]); len(f) == 0 || f[0] != release {
		return moduleRecord{}, fmt.Errorf("vermagic %q is not of release %s", info["vermagic"], release)
	}
	var deps []string
	for _, d := range strings.Split(info["depends"], ",") {
		if d = strings.TrimSpace(d); d != "" {
			deps = append(deps, moduleName(d))
		}
	}
	slices.Sort(deps)
	file := filepath.Join(dst, filepath.FromSlash(plain))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return moduleRecord{}, err
	}
	if err := atomicfile.WriteFile(file, data, 0o644); err != nil {
		return moduleRecord{}, err
	}
	sum := sha256.Sum256(data)
	return moduleRecord{Name: name, Path: plain, Depends: slices.Compact(deps), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// modinfo reads the key=value strings of a module's .modinfo section. A
// key given more than once (alias) keeps its last value.
func modinfo(ko []byte) (map[string]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("reading module: %w", err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("module has no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo: %w", err)
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			info[k] = v
		}
	}
	return info, nil
}

// checkModules checks the kept modules of an entry against its record.
func checkModules(dir string, rec *modulesRecord) error {
	for _, m := range rec.Kept {
		data, err := os.ReadFile(filepath.Join(dir, "modules", filepath.FromSlash(m.Path)))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != m.Size || hex.EncodeToString(sum[:]) != m.SHA256 {
			return fmt.Errorf("module %s does not match its record", m.Path)
		}
	}
	return nil
}
