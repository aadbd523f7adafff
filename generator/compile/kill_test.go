package compile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// processesIn returns the pids of processes whose working directory is
// below dir (clang runs in <work>/<n>/src).
func processesIn(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir+string(filepath.Separator)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestSIGKILLDuringCompile kills a build (a child process) while its
// compiler runs: the compiler dies with it, and the next build removes the
// work directory it left. The compiler here is one that never finishes on
// its own (a real compile could end before the check).
func TestSIGKILLDuringCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child build; slow")
	}
	d := newDirs(t)
	slow := filepath.Join(t.TempDir(), "slow-cc")
	script := "#!/bin/sh\ncase \"$1\" in --version) echo slow-cc 1; exit 0;; esac\nexec sleep 120\n"
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range processesIn(d.work) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBuild$")
	cmd.Env = append(os.Environ(), "DPFORGE_TEST_HELPER=build", "HELPER_OUT="+d.out, "HELPER_CACHE="+d.cache, "HELPER_WORK="+d.work,
		"DPFORGE_CC="+slow)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for len(processesIn(d.work)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no compiler started within 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	// Pdeathsig: the kernel kills the compilers with their parent.
	deadline = time.Now().Add(10 * time.Second)
	for {
		left := processesIn(d.work)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("compilers %v outlived their killed build", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	leftovers, _ := filepath.Glob(filepath.Join(d.work, workPrefix+"*"))
	if len(leftovers) != 1 {
		t.Fatalf("killed build left %d work directories, want 1 (to be cleaned by the next build)", len(leftovers))
	}
	mustBuild(t, fixtureJobs(t), d.options())
	if _, err := os.Stat(leftovers[0]); !os.IsNotExist(err) {
		t.Errorf("the next build did not remove the dead build's work directory %s", leftovers[0])
	}
	if rest, _ := filepath.Glob(filepath.Join(d.work, "*")); len(rest) != 0 {
		t.Errorf("work directory not empty after a build: %v", rest)
	}
}
