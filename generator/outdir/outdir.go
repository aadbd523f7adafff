// Package outdir writes a build's output directory as one whole: a reader,
// a concurrent build or verify, and a build that fails or is killed at any
// moment see either the previous complete directory or the new complete
// one, never a mixture.
//
// A build stages the complete new directory beside the old one and swaps
// the two with one renameat2(RENAME_EXCHANGE), then removes the old. Beside
// the directory, in its parent, live:
//
//	.<name>.lock            flock serializing every writer of <name> (build and
//	                        verify); beside, not inside, since the directory
//	                        itself is replaced
//	.<name>.stage-<random>  a staged directory, held by its writer's flock
//	                        (cache.MkdirLive); after the swap it holds the old
//	                        contents until removed. One whose writer died is
//	                        removed by the next writer.
//
// Files dpforge did not write (say headers from dpforge gen --out out/headers)
// are carried into the new directory as hard links: the list file
// (.dpforge-outputs) names what dpforge wrote, and only those are replaced.
//
// A directory that is a mount point (a container volume) cannot be renamed,
// nor one whose parent is not writable: then the lock and staged directories live inside it (.dpforge-lock,
// .dpforge-stage-*), and its top-level entries (objects, bindings, the list,
// manifest.json last) are exchanged one at a time. Each is whole, and a
// failed build still changes nothing, but a reader may see new objects with
// the old manifest for a moment.
package outdir

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/cache"
)

// ListName names, one per line, the files dpforge wrote in the directory.
const ListName = ".dpforge-outputs"

// Files are the contents of an output directory: slash paths relative to it
// mapped to contents.
type Files map[string][]byte

// layout is where a directory's lock and staged directories live.
type layout struct {
	dir         string // the output directory, symlinks resolved
	lock        string
	stageParent string
	stagePrefix string
	// inner: dir is a mount point (a container volume, say), which cannot
	// be renamed, or its parent is not writable. The lock and staged
	// directories then live inside it, and its top-level entries are
	// swapped one by one (manifest.json last) instead of the whole
	// directory at once.
	inner bool
}

// layoutOf resolves dir (symlinks too, so that a symlinked output directory
// stays a symlink) and says where its lock and staged directories go.
func layoutOf(dir string) (layout, error) {
	real, err := filepath.Abs(dir)
	if err != nil {
		return layout{}, err
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	parent, base := filepath.Split(real)
	l := layout{dir: real, lock: filepath.Join(parent, "."+base+".lock"), stageParent: filepath.Dir(real), stagePrefix: "." + base + ".stage-"}
	var st, pst unix.Stat_t
	if unix.Stat(real, &st) == nil && unix.Stat(l.stageParent, &pst) == nil &&
		(st.Dev != pst.Dev || st.Ino == pst.Ino || unix.Access(l.stageParent, unix.W_OK) != nil) {
		l.inner = true
		l.lock, l.stageParent, l.stagePrefix = filepath.Join(real, innerLock), real, innerStage
	}
	return l, nil
}

// Names inside a mount-point output directory (layout.inner).
const (
	innerLock  = ".dpforge-lock"
	innerStage = ".dpforge-stage-"
)

// Lock takes the directory's writer lock, waiting for other writers until
// ctx is done.
func Lock(ctx context.Context, dir string) (unlock func(), err error) {
	l, err := layoutOf(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(l.lock), 0o755); err != nil {
		return nil, err
	}
	return cache.Lock(ctx, l.lock)
}

// Replace makes dir hold exactly the files build returns, plus the files
// dpforge did not write that were there before. build runs under the lock
// with the directory as it is then (it may read it, for instance to carry
// over what a previous build recorded). On any error, dir is left as it was.
// If dir already holds exactly those files, nothing is written.
func Replace(ctx context.Context, dir string, build func(current string) (Files, error)) error {
	wrap := func(err error) error { return fmt.Errorf("writing outputs to %s: %w", dir, err) }
	l, err := layoutOf(dir)
	if err != nil {
		return wrap(err)
	}
	unlock, err := Lock(ctx, dir)
	if err != nil {
		return wrap(err)
	}
	defer unlock()
	// Under the lock: every staged directory not held (by a writer, or by a
	// reader of a replaced build) is a dead writer's.
	cache.RemoveDeadExclusive(l.stageParent, l.stagePrefix)

	files, err := build(l.dir)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(files))
	for _, n := range names {
		if !atomicfile.Local(n) || n == ListName {
			return wrap(fmt.Errorf("refusing to write %q", n))
		}
	}
	list := listBytes(names)

	fi, statErr := os.Lstat(l.dir)
	exists := statErr == nil
	if exists && !fi.IsDir() {
		return wrap(fmt.Errorf("%s is not a directory", l.dir))
	}
	if exists && upToDate(l.dir, files, list) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	stage, err := cache.MkdirLive(l.stageParent, l.stagePrefix)
	if err != nil {
		return wrap(err)
	}
	swapped := false
	defer func() {
		if !swapped {
			stage.Remove()
		}
	}()
	mode := os.FileMode(0o755)
	if exists {
		mode = fi.Mode().Perm()
	}
	if err := os.Chmod(stage.Path, mode); err != nil {
		return wrap(err)
	}
	for _, n := range names {
		if err := writeFile(filepath.Join(stage.Path, filepath.FromSlash(n)), files[n]); err != nil {
			return wrap(err)
		}
	}
	if err := writeFile(filepath.Join(stage.Path, ListName), list); err != nil {
		return wrap(err)
	}
	if exists {
		if err := carryOver(l.dir, stage.Path, files); err != nil {
			return wrap(err)
		}
	}
	// Everything staged reaches the disk before the swap makes it current.
	if err := syncFS(stage.Path); err != nil {
		return wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	switch {
	case l.inner:
		err = swapEntries(stage.Path, l.dir, names)
	case exists:
		err = unix.Renameat2(unix.AT_FDCWD, stage.Path, unix.AT_FDCWD, l.dir, unix.RENAME_EXCHANGE)
	default:
		err = os.Rename(stage.Path, l.dir)
	}
	if err != nil {
		return wrap(fmt.Errorf("switching to the new outputs: %w", err))
	}
	swapped = true
	syncDir(filepath.Dir(l.dir))
	// The staged name now holds the old build. A reader may still be
	// reading it (Snapshot holds a shared flock): then it stays, and a
	// later writer removes it once the reader is done.
	old := stage.Path
	stage.Release()
	removeUnread(old)
	return nil
}

// swapEntries is the swap for a mount-point output directory: each
// top-level entry dpforge writes is exchanged with the staged one (the
// list, then manifest.json, last, so that a manifest never names objects
// that are not there yet); entries only the old build had move into stage.
func swapEntries(stage, dir string, names []string) error {
	tops := map[string]bool{ListName: true}
	for _, n := range names {
		top, _, _ := strings.Cut(n, "/")
		tops[top] = true
	}
	for n := range readList(dir) {
		top, _, _ := strings.Cut(n, "/")
		tops[top] = true
	}
	order := slices.SortedFunc(maps.Keys(tops), func(a, b string) int {
		rank := func(s string) int {
			switch s {
			case ListName:
				return 1
			case "manifest.json":
				return 2
			}
			return 0
		}
		return cmp.Or(rank(a)-rank(b), strings.Compare(a, b))
	})
	for _, top := range order {
		src, dst := filepath.Join(stage, top), filepath.Join(dir, top)
		_, serr := os.Lstat(src)
		_, derr := os.Lstat(dst)
		var err error
		switch {
		case serr == nil && derr == nil:
			err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
		case serr == nil:
			err = os.Rename(src, dst)
		case derr == nil:
			err = os.Rename(dst, src) // only the old build had it
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func listBytes(names []string) []byte {
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return b.Bytes()
}

// readList returns the names in dir's list file.
func readList(dir string) map[string]bool {
	data, _ := os.ReadFile(filepath.Join(dir, ListName))
	names := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		if name := strings.TrimSpace(line); name != "" && fs.ValidPath(name) {
			names[name] = true
		}
	}
	return names
}

// upToDate reports whether dir holds exactly files as dpforge's files.
func upToDate(dir string, files Files, list []byte) bool {
	if old, err := os.ReadFile(filepath.Join(dir, ListName)); err != nil || !bytes.Equal(old, list) {
		return false
	}
	for n, data := range files {
		old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil || !bytes.Equal(old, data) {
			return false
		}
	}
	return true
}

// carryOver hard-links into stage every file of old that dpforge did not
// write (not in old's list) and that the new outputs do not replace.
func carryOver(old, stage string, files Files) error {
	ours := readList(old)
	return filepath.WalkDir(old, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(old, p)
		name := filepath.ToSlash(rel)
		if d.IsDir() && (strings.HasPrefix(name, innerStage) || strings.HasPrefix(name, ".dpforge-new-")) {
			return fs.SkipDir // a staged directory of a mount-point output directory
		}
		if d.IsDir() || name == ListName || name == innerLock || ours[name] || atomicfile.IsTemp(name) {
			return nil
		}
		if _, replaced := files[name]; replaced {
			return nil
		}
		dst := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		}
		if err := os.Link(p, dst); err == nil {
			return nil
		}
		return copyFile(p, dst)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// syncFS flushes the filesystem holding dir (one syncfs instead of an fsync
// per file).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// Update rewrites one file of dir under the writer lock: fn gets the file's
// current content (nil if absent) and returns the new one. The file is
// replaced atomically (temporary file and rename), left alone if unchanged.
func Update(ctx context.Context, dir, name string, fn func(old []byte) ([]byte, error)) error {
	unlock, err := Lock(ctx, dir)
	if err != nil {
		return fmt.Errorf("updating %s: %w", name, err)
	}
	defer unlock()
	path := filepath.Join(dir, filepath.FromSlash(name))
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("updating %s: %w", name, err)
	}
	data, err := fn(old)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFileIfChanged(path, data, 0o644); err != nil {
		return fmt.Errorf("updating %s: %w", name, err)
	}
	return nil
}

// Snapshot opens dir and returns a path that names the directory opened,
// not whatever is at dir later: reads through it see one whole build even
// if a build replaces dir meanwhile, since a writer does not remove a
// replaced directory while a reader holds it (a shared flock). It is for
// readers that take long (verify loads every object into the kernel) and so
// must not hold the writer lock.
func Snapshot(dir string) (path string, release func(), err error) {
	for {
		f, err := os.Open(dir)
		if err != nil {
			return "", nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			f.Close()
			return "", nil, err
		}
		// Locked: but is it still the directory at dir, or one a writer
		// replaced (and may have emptied) between open and flock?
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(dir, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), func() { f.Close() }, nil
		}
		f.Close()
	}
}

// removeUnread removes dir unless a reader holds it.
func removeUnread(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		os.RemoveAll(dir)
	}
}
