package compile

import (
	"github.com/dpforge/dpforge/generator/env"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoopBuildRunsNoTool: a build whose objects are all cached runs no
// tool at all, not even "--version": the tools' identities are remembered in
// the cache while their files stay the same.
func TestNoopBuildRunsNoTool(t *testing.T) {
	d := newDirs(t)
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	wrap := func(name, real string) string {
		p := filepath.Join(bin, name)
		script := "#!/bin/sh\necho \"" + name + " $*\" >>'" + log + "'\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		// Older than the window in which a fresh file is not trusted.
		old := time.Now().Add(-time.Hour)
		os.Chtimes(p, old, old)
		return p
	}
	opts := d.options()
	opts.CC = wrap("cc", env.Compiler())
	opts.Strip = wrap("strip", env.Strip())
	jobs := fixtureJobs(t)
	if res := mustBuild(t, jobs, opts); res.Compiled != len(jobs) {
		t.Fatalf("cold build compiled %d of %d", res.Compiled, len(jobs))
	}
	cold, _ := os.ReadFile(log)
	if n := strings.Count(string(cold), "--version"); n != 2 {
		t.Fatalf("cold build ran --version %d times, want once per tool:\n%s", n, cold)
	}
	os.Remove(log)
	if res := mustBuild(t, jobs, opts); res.Compiled != 0 {
		t.Fatalf("no-op build compiled %d", res.Compiled)
	}
	if ran, err := os.ReadFile(log); err == nil {
		t.Fatalf("no-op build ran tools:\n%s", ran)
	}
}
