package vm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/generator/env"
	"github.com/dpforge/dpforge/generator/errlist"
)

// kernelsEnv lists the series TestVM boots, e.g. "5.10 6.1 6.12".
const kernelsEnv = "DPFORGE_VM_KERNELS"

// vmKernels returns the series to boot, or skips the test loudly: booting
// downloads 60–110 MB per kernel (once; the cache keeps it) and takes
// 10–30 s per kernel under emulation, too much for every go test.
func vmKernels(t *testing.T) []string {
	t.Helper()
	series := strings.Fields(os.Getenv(kernelsEnv))
	if len(series) == 0 {
		t.Skipf("SKIPPED: set %s=\"5.10 6.1 6.12\" to verify on Debian kernels under qemu (downloads 60–110 MB per kernel once, 10–30 s per kernel)", kernelsEnv)
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: the VM tests install tools with apt-get and need root")
	}
	return series
}

// compileFixture builds testdata/fixture/fixture.c into dir.
func compileFixture(t *testing.T, dir string) string {
	t.Helper()
	cc := env.Compiler()
	out := filepath.Join(dir, "fixture.o")
	cmd := exec.Command(cc, "-O2", "-g", "-target", "bpf", "-mcpu=v2",
		"-I/usr/include/x86_64-linux-gnu", "-c", "testdata/fixture/fixture.c", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling fixture: %v\n%s", err, b)
	}
	return out
}

func TestVM(t *testing.T) {
	series := vmKernels(t)
	ctx := context.Background()
	if err := EnsureTools(ctx); err != nil {
		t.Fatal(err)
	}
	obj := compileFixture(t, t.TempDir())
	cacheDir, err := DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			k, err := Fetch(ctx, s, cacheDir)
			if err != nil {
				t.Fatalf("Fetch: %+v", err)
			}
			t.Logf("kernel %s (%s, %s payload) ready in %v", k.Release, k.Version, k.Compression, time.Since(start).Round(time.Millisecond))
			if !strings.HasPrefix(k.Version, s+".") {
				t.Errorf("series %s gave version %s", s, k.Version)
			}
			if k.Config == "" {
				t.Errorf("kernel %s has no config", k.Release)
			}

			report, err := Verify(ctx, k, []Object{{Name: "fixture", Path: obj}}, Options{})
			if report == nil {
				t.Fatalf("Verify: %+v", err)
			}
			t.Logf("booted in %v, done in %v", report.Boot.Round(time.Millisecond), report.Total.Round(time.Millisecond))
			if report.Release != k.Release {
				t.Errorf("guest release %q, package release %q", report.Release, k.Release)
			}
			// The only error must be the rejection of "reject".
			var rejected []*loader.ProgramError
			for _, e := range errlist.Flatten(err) {
				var ve *loader.ProgramError
				if !errors.As(e, &ve) {
					t.Errorf("unexpected error: %+v", e)
					continue
				}
				rejected = append(rejected, ve)
			}
			if len(report.Objects) != 1 {
				t.Fatalf("%d objects reported, want 1", len(report.Objects))
			}
			progs := map[string]ProgramReport{}
			for _, p := range report.Objects[0].Programs {
				progs[p.Name] = p
			}
			if p := progs["accept"]; !p.Known || p.Instructions == 0 || p.Err != nil {
				t.Errorf("accept: %+v", p)
			} else {
				t.Logf("accept: %d instructions verified (from %s)", p.Instructions, p.Source)
			}
			p := progs["reject"]
			if p.Known || p.Err == nil {
				t.Fatalf("reject was not rejected: %+v", p)
			}
			if len(rejected) != 1 || rejected[0].Program != "reject" || rejected[0].Release != k.Release {
				t.Errorf("errors %v, want the rejection of reject on %s", rejected, k.Release)
			}
			if log := strings.Join(rejected[0].Log, "\n"); !strings.Contains(log, "invalid mem access") {
				t.Errorf("verifier log of reject does not say why:\n%s", log)
			}
			t.Logf("reject: %v (%d log lines)", rejected[0], len(rejected[0].Log))
		})
	}
}
