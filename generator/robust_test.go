package generator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/outdir"
	"github.com/dpforge/dpforge/generator/plan"
	"github.com/dpforge/dpforge/generator/verify"
)

// otherMatrix resolves to variants other than matrix's.
const otherMatrix = `kernels:
  old: {version: 5.4.0}
defaults:
  tunnel: geneve
nodes:
  - {name: x, kernel: old}
`

// checkWhole fails unless dir holds one whole build: the manifest lists
// exactly the objects present, each with its hash, and the bindings registry
// exactly those variants.
func checkWhole(t *testing.T, dir string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var listed, present []string
	for _, v := range m.Variants {
		listed = append(listed, v.Object)
		data, err := os.ReadFile(filepath.Join(dir, v.Object))
		if err != nil || cache.SHA256Hex(data) != v.SHA256 {
			t.Errorf("variant %s: object %s missing or not the one the manifest names (%v)", v.ID, v.Object, err)
		}
	}
	objs, _ := filepath.Glob(filepath.Join(dir, "objects", "*.o"))
	for _, o := range objs {
		present = append(present, "objects/"+filepath.Base(o))
	}
	slices.Sort(listed)
	if !slices.Equal(listed, present) {
		t.Errorf("manifest lists %v, directory holds %v", listed, present)
	}
	reg, _ := os.ReadFile(filepath.Join(dir, "bindings", "registry_bpfel.go"))
	if n := strings.Count(string(reg), "variants["); n != len(m.Variants) {
		t.Errorf("registry lists %d variants, manifest %d", n, len(m.Variants))
	}
	return m
}

// TestConcurrentBuildsAndVerify: builds of two matrices (one of them twice)
// and (as root) verifies, all at once on one output directory. Every one succeeds, and the
// directory ends as one whole build with verifier counts only for the
// objects it holds.
func TestConcurrentBuildsAndVerify(t *testing.T) {
	// Two builds of one matrix too: one's cleanup must not touch the
	// other's staged files.
	plans := []*struct {
		data string
	}{{matrix}, {otherMatrix}, {matrix}}
	out, cacheDir := filepath.Join(t.TempDir(), "out"), t.TempDir()
	opts := Options{OutDir: out, CacheDir: cacheDir, WorkDir: t.TempDir()}
	// Fill the cache first, so the race is in the output phase.
	for _, p := range plans {
		o := opts
		o.OutDir = filepath.Join(t.TempDir(), "warm")
		if _, err := Execute(context.Background(), testPlan(t, p.data), o); err != nil {
			t.Fatalf("%+v", err)
		}
	}
	if _, err := Execute(context.Background(), testPlan(t, matrix), opts); err != nil {
		t.Fatalf("%+v", err)
	}
	root := os.Geteuid() == 0
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				if _, err := Execute(context.Background(), testPlan(t, p.data), opts); err != nil {
					errs <- err
				}
			}
		}()
		if root {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2 + i {
					snap, release, err := outdir.Snapshot(out)
					if err != nil {
						errs <- err
						return
					}
					m, err := manifest.Load(filepath.Join(snap, ManifestName))
					if err == nil {
						_, err = verify.Verify(context.Background(), snap, m, verify.Options{ManifestPath: filepath.Join(out, ManifestName)})
					}
					release()
					if err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent run failed: %+v", err)
	}
	m := checkWhole(t, out)
	if !root {
		t.Skip("SKIPPED (after checking concurrent builds): verifying in the kernel needs root; run the tests as root (CI does)")
	}
	// Counts carried into a build's manifest belong to its own objects: a
	// final verify on a quiet directory records counts for every program.
	if _, err := verify.Verify(context.Background(), out, m, verify.Options{}); err != nil {
		t.Fatalf("%+v", err)
	}
	for _, v := range checkWhole(t, out).Variants {
		for _, p := range v.Programs {
			if len(p.Verified) == 0 {
				t.Errorf("variant %s program %s: no count", v.ID, p.Name)
			}
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes in a temporary directory (root
// only), unmounted when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a small tmpfs needs root; run the tests as root (CI does)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestFullCache: a cache on a full filesystem costs caching, not the build.
func TestFullCache(t *testing.T) {
	cacheDir := filepath.Join(mountTmpfs(t, "64k"), "cache")
	out := filepath.Join(t.TempDir(), "out")
	res, err := Execute(context.Background(), testPlan(t, matrix), Options{OutDir: out, CacheDir: cacheDir, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("a full cache failed the build: %+v", err)
	}
	if len(res.Build.Warnings) == 0 || !errors.Is(res.Build.Warnings[0], syscall.ENOSPC) {
		t.Errorf("warnings %v, want ENOSPC", res.Build.Warnings)
	}
	checkWhole(t, out)
}

// TestFullOutputFilesystem: a build whose outputs do not fit leaves the
// previous build as it was.
func TestFullOutputFilesystem(t *testing.T) {
	// The second build (~640 KB) fits on its own, not beside the first (~220 KB).
	out := filepath.Join(mountTmpfs(t, "768k"), "out")
	opts := Options{OutDir: out, CacheDir: t.TempDir(), WorkDir: t.TempDir()}
	if _, err := Execute(context.Background(), testPlan(t, otherMatrix), opts); err != nil {
		t.Fatalf("%+v", err)
	}
	before := checkWhole(t, out)
	beforeData, _ := os.ReadFile(filepath.Join(out, ManifestName))
	_, err := Execute(context.Background(), testPlan(t, matrix), opts)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("build on a full filesystem: %v, want ENOSPC", err)
	}
	after := checkWhole(t, out)
	afterData, _ := os.ReadFile(filepath.Join(out, ManifestName))
	if string(beforeData) != string(afterData) || len(before.Variants) != len(after.Variants) {
		t.Errorf("the failed build changed the output directory")
	}
}

// TestKilledDuringOutput kills builds (child processes alternating two
// matrices on a warm cache, so they spend their time in the output phase)
// with SIGKILL at random moments: the directory is always one whole build.
func TestKilledDuringOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child builds")
	}
	out, cacheDir, work := filepath.Join(t.TempDir(), "out"), t.TempDir(), t.TempDir()
	opts := Options{OutDir: out, CacheDir: cacheDir, WorkDir: work}
	for _, data := range []string{otherMatrix, matrix} {
		if _, err := Execute(context.Background(), testPlan(t, data), opts); err != nil {
			t.Fatalf("%+v", err)
		}
	}
	for i := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperExecute$")
		cmd.Env = append(os.Environ(), "DPFORGE_TEST_HELPER=execute", "HELPER_OUT="+out, "HELPER_CACHE="+cacheDir, "HELPER_WORK="+work)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Run(fmt.Sprint("kill", i), func(t *testing.T) { checkWhole(t, out) })
	}
	if _, err := Execute(context.Background(), testPlan(t, matrix), opts); err != nil {
		t.Fatalf("build after kills: %+v", err)
	}
	checkWhole(t, out)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.stage-*"))
	if len(left) != 0 {
		t.Errorf("staged directories of killed builds not removed: %v", left)
	}
}

// TestHelperExecute is the child process of TestKilledDuringOutput.
func TestHelperExecute(t *testing.T) {
	if os.Getenv("DPFORGE_TEST_HELPER") != "execute" {
		t.Skip("helper process for TestKilledDuringOutput")
	}
	opts := Options{OutDir: os.Getenv("HELPER_OUT"), CacheDir: os.Getenv("HELPER_CACHE"), WorkDir: os.Getenv("HELPER_WORK")}
	plans := []*plan.Plan{testPlan(t, matrix), testPlan(t, otherMatrix)}
	for i := 0; ; i++ {
		Execute(context.Background(), plans[i%2], opts) // until killed
	}
}

// TestUnusableCacheDirectory: a cache directory that cannot be created
// costs caching, not the build.
func TestUnusableCacheDirectory(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644) // a file where the cache's parent should be
	out := filepath.Join(t.TempDir(), "out")
	res, err := Execute(context.Background(), testPlan(t, otherMatrix), Options{OutDir: out, CacheDir: filepath.Join(blocker, "cache"), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("an unusable cache failed the build: %+v", err)
	}
	if len(res.Build.Warnings) == 0 {
		t.Error("no warning about the cache")
	}
	checkWhole(t, out)
}
