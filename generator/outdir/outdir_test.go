package outdir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// version is a complete output set: every file's content names the version,
// so a mixture of two is visible.
func version(name string, n int) Files {
	files := Files{"manifest.json": []byte(name + " manifest\n")}
	for i := range n {
		files[fmt.Sprintf("objects/%s-%d.o", name, i)] = bytes.Repeat([]byte(name), 1000+i)
	}
	files["bindings/registry.go"] = []byte("package datapath // " + name + "\n")
	return files
}

func replace(t testing.TB, dir string, files Files) {
	t.Helper()
	if err := Replace(context.Background(), dir, func(string) (Files, error) { return files, nil }); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every file of the directory as a reader does, through
// Snapshot and one descriptor of the directory, so that a swap in the middle
// cannot mix two directories.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	snap, release, err := Snapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fd, err := unix.Open(snap, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	got := map[string]string{}
	var walk func(rel string)
	walk = func(rel string) {
		f := os.NewFile(uintptr(must(unix.Openat(fd, cmpOr(rel, "."), unix.O_RDONLY|unix.O_DIRECTORY, 0))), rel)
		defer f.Close()
		entries, err := f.ReadDir(-1)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.Join(rel, e.Name())
			if e.Type()&os.ModeSymlink != 0 {
				buf := make([]byte, 4096)
				n, _ := unix.Readlinkat(fd, p, buf)
				got[filepath.ToSlash(p)] = "-> " + string(buf[:n])
				continue
			}
			if e.IsDir() {
				walk(p)
				continue
			}
			ffd := must(unix.Openat(fd, p, unix.O_RDONLY, 0))
			data, _ := readAll(ffd)
			got[filepath.ToSlash(p)] = string(data)
		}
	}
	walk("")
	return got
}

func must(fd int, err error) int {
	if err != nil {
		panic(err)
	}
	return fd
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func readAll(fd int) ([]byte, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.Bytes(), err
}

// want is what the directory holds after files were written by dpforge,
// with foreign files beside them.
func want(files Files, foreign map[string]string) map[string]string {
	out := map[string]string{}
	var names []string
	for n, d := range files {
		out[n] = string(d)
		names = append(names, n)
	}
	slices.Sort(names)
	out[ListName] = string(listBytes(names))
	for n, d := range foreign {
		out[n] = d
	}
	return out
}

// siblings lists the entries beside dir other than dir and its lock.
func siblings(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); n != filepath.Base(dir) && n != "."+filepath.Base(dir)+".lock" {
			out = append(out, n)
		}
	}
	return out
}

func TestReplace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	a, b := version("a", 3), version("b", 2)
	replace(t, dir, a)
	if diff := cmp.Diff(want(a, nil), snapshot(t, dir)); diff != "" {
		t.Fatalf("first build (-want +got):\n%s", diff)
	}
	// Files dpforge did not write survive a rebuild, also inside its
	// directories; its own files that the new build lacks do not.
	foreign := map[string]string{"headers/nodes/n1/node_config.h": "#define X 1\n", "objects/README": "mine\n"}
	for n, d := range foreign {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644)
	}
	os.Symlink("headers", filepath.Join(dir, "link"))
	foreign["link"] = "-> headers"
	replace(t, dir, b)
	got := snapshot(t, dir)
	if diff := cmp.Diff(want(b, foreign), got); diff != "" {
		t.Fatalf("rebuild (-want +got):\n%s", diff)
	}
	if s := siblings(t, dir); len(s) != 0 {
		t.Errorf("left beside the output directory: %v", s)
	}
	// An identical rebuild writes nothing: the directory is the same inode.
	var before, after syscall.Stat_t
	syscall.Stat(dir, &before)
	replace(t, dir, b)
	syscall.Stat(dir, &after)
	if before.Ino != after.Ino {
		t.Errorf("an identical rebuild replaced the directory")
	}
	// A build that fails leaves the directory as it was.
	err := Replace(context.Background(), dir, func(string) (Files, error) { return nil, errors.New("compile failed") })
	if err == nil {
		t.Fatal("Replace hid the build's error")
	}
	if diff := cmp.Diff(got, snapshot(t, dir)); diff != "" {
		t.Errorf("a failed build changed the directory (-before +after):\n%s", diff)
	}
	// A symlinked output directory stays a symlink to the real one.
	link := filepath.Join(t.TempDir(), "out-link")
	os.Symlink(dir, link)
	replace(t, link, a)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlinked output directory replaced: %v %v", fi, err)
	}
	if diff := cmp.Diff(want(a, foreign), snapshot(t, dir)); diff != "" {
		t.Errorf("through a symlink (-want +got):\n%s", diff)
	}
	if err := Replace(context.Background(), dir, func(string) (Files, error) { return Files{"../x": nil}, nil }); err == nil {
		t.Error("a file outside the directory was accepted")
	}
}

// TestConcurrentWriters: builds of different outputs and readers on one
// directory; every reader sees one whole version, and the end is one whole
// version.
func TestConcurrentWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	versions := []Files{version("a", 4), version("b", 2), version("c", 6)}
	wants := make([]map[string]string, len(versions))
	for i, v := range versions {
		wants[i] = want(v, nil)
	}
	replace(t, dir, versions[0])
	isWhole := func(got map[string]string) bool {
		return slices.ContainsFunc(wants, func(w map[string]string) bool { return cmp.Equal(w, got) })
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				replace(t, dir, versions[i])
			}
		}()
	}
	var reads int
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := snapshot(t, dir); !isWhole(got) {
				t.Errorf("a reader saw a mixture: %v", slices.Sorted(func(y func(string) bool) {
					for k := range got {
						if !y(k) {
							return
						}
					}
				}))
				return
			}
			reads++
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	got := snapshot(t, dir)
	if !isWhole(got) {
		t.Errorf("final directory is no whole version")
	}
	// A replaced build a reader still held stays until the next writer
	// (here a no-op) finds it unread.
	replace(t, dir, Files(versions[slices.IndexFunc(wants, func(w map[string]string) bool { return cmp.Equal(w, got) })]))
	if s := siblings(t, dir); len(s) != 0 {
		t.Errorf("left beside the output directory: %v", s)
	}
	t.Logf("%d whole snapshots read during 45 replacements", reads)
}

// TestFullFilesystem: a build whose outputs do not fit leaves the directory
// as it was and nothing beside it (as root: a small tmpfs).
func TestFullFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a small tmpfs needs root; run the tests as root (CI does)")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	dir := filepath.Join(mnt, "out")
	small := version("a", 3) // ~3 KB
	replace(t, dir, small)
	before := snapshot(t, dir)
	big := Files{"manifest.json": []byte("big\n"), "objects/big.o": bytes.Repeat([]byte{1}, 300<<10)}
	err := Replace(context.Background(), dir, func(string) (Files, error) { return big, nil })
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Replace on a full filesystem: %v, want ENOSPC", err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("a build that did not fit changed the directory (-before +after):\n%s", diff)
	}
	if s := siblings(t, dir); len(s) != 0 {
		t.Errorf("left beside the output directory: %v", s)
	}
}

// TestKilledWriter kills a writer (a child process replacing the directory
// in a loop) at random moments: after each kill the directory is one whole
// version, and the next writer removes what the killed one staged.
func TestKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := filepath.Join(t.TempDir(), "out")
	wants := []map[string]string{want(version("a", 40), nil), want(version("b", 25), nil)}
	replace(t, dir, version("a", 40))
	staged := 0
	for i := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "DPFORGE_TEST_HELPER=outdir", "HELPER_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		got := snapshot(t, dir)
		if !cmp.Equal(wants[0], got) && !cmp.Equal(wants[1], got) {
			t.Fatalf("kill %d: the directory is no whole version", i)
		}
		staged += len(siblings(t, dir))
	}
	t.Logf("%d staged directories left by 12 kills", staged)
	replace(t, dir, version("a", 40))
	if s := siblings(t, dir); len(s) != 0 {
		t.Errorf("staged directories of killed writers not removed: %v", s)
	}
}

// TestHelperWriter is the child process of TestKilledWriter.
func TestHelperWriter(t *testing.T) {
	if os.Getenv("DPFORGE_TEST_HELPER") != "outdir" {
		t.Skip("helper process for TestKilledWriter")
	}
	dir := os.Getenv("HELPER_DIR")
	for i := 0; ; i++ {
		v := version("a", 40)
		if i%2 == 0 {
			v = version("b", 25)
		}
		replace(t, dir, v) // until killed
	}
}

// TestMountPoint: an output directory that is a mount point (a container
// volume) cannot be renamed; its entries are swapped instead, and files
// dpforge did not write stay.
func TestMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a tmpfs needs root; run the tests as root (CI does)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	a, b := version("a", 3), version("b", 2)
	replace(t, dir, a)
	foreign := map[string]string{"headers/x.h": "#define X 1\n", "objects/README": "mine\n"}
	for n, d := range foreign {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644)
	}
	replace(t, dir, b)
	got := snapshot(t, dir)
	delete(got, innerLock)
	if diff := cmp.Diff(want(b, foreign), got); diff != "" {
		t.Errorf("mount point rebuilt (-want +got):\n%s", diff)
	}
	// A failed build leaves it as it was.
	if err := Replace(context.Background(), dir, func(string) (Files, error) { return nil, errors.New("failed") }); err == nil {
		t.Fatal("error hidden")
	}
	again := snapshot(t, dir)
	delete(again, innerLock)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("a failed build changed the mount point (-before +after):\n%s", diff)
	}
}
