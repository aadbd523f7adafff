package vm

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// systemLibraryDirs are the directories glibc's loader searches on a
// Debian multiarch amd64 system when neither the object's RUNPATH nor
// /etc/ld.so.cache names the library (ld.so --help: "system search path").
// The guest has no ld.so.cache, so these are where its loader looks.
var systemLibraryDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}

// HostTools returns the named programs of this machine (looked up in PATH,
// e.g. "ip", "tc") with every shared library they load and their ELF
// interpreter, at the paths the guest's loader looks for them: the program
// where PATH found it (usr/sbin/ip), each library where the loader's search
// finds it (the object's RPATH or RUNPATH, then the system directories:
// lib/x86_64-linux-gnu/libbpf.so.1), the interpreter at its PT_INTERP path
// (lib64/ld-linux-x86-64.so.2). Host names the file with symlinks followed,
// so each is a regular file. The list holds each path once, sorted by it.
//
// The search is the loader's without /etc/ld.so.cache, which the guest
// lacks: a library this machine's loader takes from a directory only the
// cache knows (/etc/ld.so.conf) is taken from the system directories
// instead, or is an error if they do not have it. Libraries loaded with
// dlopen at run time are not found.
func HostTools(names ...string) ([]GuestFile, error) {
	r := libResolver{files: map[string]GuestFile{}, sonames: map[string]bool{}}
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("finding program %q: %w", name, err)
		}
		if p, err = filepath.Abs(p); err != nil {
			return nil, fmt.Errorf("finding program %q: %w", name, err)
		}
		if err := r.addProgram(p); err != nil {
			return nil, fmt.Errorf("program %q: %w", name, err)
		}
	}
	out := make([]GuestFile, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b GuestFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// libResolver collects the files of programs and their libraries.
type libResolver struct {
	// files maps a guest path to its file.
	files map[string]GuestFile
	// sonames are the libraries loaded so far, by DT_SONAME and by file
	// name: the loader satisfies a DT_NEEDED naming one without a search
	// (libc.so.6 needs ld-linux-x86-64.so.2, already loaded as the
	// interpreter).
	sonames map[string]bool
}

// elfObject is what resolution reads of one ELF file.
type elfObject struct {
	class           elf.Class
	machine         elf.Machine
	interp, soname  string
	needed          []string
	rpath, runpath  []string
	hostPath, guest string
}

func readELF(file string) (*elfObject, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	o := &elfObject{class: f.Class, machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return nil, fmt.Errorf("reading PT_INTERP: %w", err)
		}
		o.interp = strings.TrimRight(string(b), "\x00")
	}
	if f.Section(".dynamic") == nil {
		return o, nil // static
	}
	if o.needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, err
	}
	if s, _ := f.DynString(elf.DT_SONAME); len(s) > 0 {
		o.soname = s[0]
	}
	for _, d := range []struct {
		tag elf.DynTag
		to  *[]string
	}{{elf.DT_RPATH, &o.rpath}, {elf.DT_RUNPATH, &o.runpath}} {
		s, _ := f.DynString(d.tag)
		for _, v := range s {
			*d.to = append(*d.to, filepath.SplitList(v)...)
		}
	}
	return o, nil
}

// add records an object at its guest path (an absolute path in the
// guest's file system) and returns it, or nil if that path is taken.
func (r *libResolver) add(guest, host string, mode os.FileMode) (*elfObject, error) {
	rel := strings.TrimPrefix(path.Clean(guest), "/")
	if _, ok := r.files[rel]; ok {
		return nil, nil
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(real); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", real)
	}
	o, err := readELF(real)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", host, err)
	}
	o.hostPath, o.guest = host, path.Clean(guest)
	r.files[rel] = GuestFile{Path: rel, Mode: mode, Host: real}
	r.sonames[path.Base(guest)] = true
	if o.soname != "" {
		r.sonames[o.soname] = true
	}
	return o, nil
}

// addProgram adds a program at its path, its interpreter and its
// libraries, breadth first as the loader loads them.
func (r *libResolver) addProgram(file string) error {
	prog, err := r.add(file, file, 0o755)
	if err != nil || prog == nil {
		return err
	}
	queue := []*elfObject{prog}
	if prog.interp != "" {
		interp, err := r.add(prog.interp, prog.interp, 0o755)
		if err != nil {
			return fmt.Errorf("interpreter %s: %w", prog.interp, err)
		}
		if interp != nil {
			queue = append(queue, interp)
		}
	}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		for _, lib := range o.needed {
			if r.sonames[lib] {
				continue
			}
			found, err := r.find(lib, o, prog)
			if err != nil {
				return err
			}
			dep, err := r.add(found, found, 0o755)
			if err != nil {
				return fmt.Errorf("library %s: %w", found, err)
			}
			if dep != nil {
				queue = append(queue, dep)
			}
		}
	}
	return nil
}

// find searches a library the way the loader does: a name with a slash is
// a path; else the DT_RPATH of the needing object and of the program (when
// the object has no DT_RUNPATH), its DT_RUNPATH, the system directories.
// The candidate must be an ELF file of the program's class and machine.
func (r *libResolver) find(lib string, o, prog *elfObject) (string, error) {
	if strings.Contains(lib, "/") {
		return lib, nil
	}
	var dirs []string
	if len(o.runpath) == 0 {
		dirs = append(dirs, expandOrigin(o.rpath, o)...)
		if o != prog {
			dirs = append(dirs, expandOrigin(prog.rpath, prog)...)
		}
	}
	dirs = append(dirs, expandOrigin(o.runpath, o)...)
	dirs = append(dirs, systemLibraryDirs...)
	for _, d := range dirs {
		cand := filepath.Join(d, lib)
		c, err := readELF(cand)
		if err != nil || c.class != prog.class || c.machine != prog.machine {
			continue
		}
		return cand, nil
	}
	return "", fmt.Errorf("library %s needed by %s: not found in %s", lib, o.hostPath, strings.Join(dirs, ", "))
}

// expandOrigin substitutes $ORIGIN, the directory of the object, in
// search paths.
func expandOrigin(dirs []string, o *elfObject) []string {
	out := make([]string, 0, len(dirs))
	origin := path.Dir(o.guest)
	for _, d := range dirs {
		d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
