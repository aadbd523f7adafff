package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features/probe"
	"github.com/dpforge/dpforge/generator"
	"github.com/dpforge/dpforge/generator/bindings"
	"github.com/dpforge/dpforge/generator/compile"
	"github.com/dpforge/dpforge/generator/errlist"
)

// requireRoot skips privileged tests, loudly, when not root. In CI (root)
// they run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: loading BPF programs needs root; run the tests as root to verify objects in the kernel")
	}
}

// fixtureDir is generator/compile's miniature datapath and its variant
// headers.
const fixtureDir = "../compile/testdata"

type dirs struct{ out, cache, work string }

func newDirs(t testing.TB) dirs {
	return dirs{out: t.TempDir(), cache: t.TempDir(), work: t.TempDir()}
}

// job returns a job for the fixture header name.
func job(t testing.TB, id, name, cpu string) compile.Job {
	t.Helper()
	h, err := os.ReadFile(filepath.Join(fixtureDir, "variants", name+".h"))
	if err != nil {
		t.Fatal(err)
	}
	return compile.Job{ID: id, Header: h, CPU: cpu, Target: "bpfel"}
}

// fixtureJobs are three variants: two headers, one of them at two ISA levels.
func fixtureJobs(t testing.TB) []compile.Job {
	return []compile.Job{job(t, "policy-v3", "policy", "v3"), job(t, "base", "base", "v1"), job(t, "policy-v2", "policy", "v2")}
}

// buildManifest builds jobs and writes OUTDIR/manifest.json.
func buildManifest(t *testing.T, d dirs, jobs []compile.Job) *manifest.Manifest {
	t.Helper()
	res, err := compile.Build(context.Background(), jobs, compile.Options{
		Source: os.DirFS(filepath.Join(fixtureDir, "datapath")), MainFile: "datapath.c",
		OutDir: d.out, CacheDir: d.cache, WorkDir: d.work,
	})
	if err != nil && !errors.As(err, new(*bindings.APIMismatchError)) {
		t.Fatalf("Build: %+v", err)
	}
	m := generator.Manifest(nil, res)
	if err := WriteManifest(filepath.Join(d.out, "manifest.json"), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerify(t *testing.T) {
	requireRoot(t)
	d := newDirs(t)
	m := buildManifest(t, d, fixtureJobs(t))

	report, err := Verify(context.Background(), d.out, m, Options{})
	if err != nil {
		t.Fatalf("Verify: %+v", err)
	}
	release, err := probe.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	if report.Release != release {
		t.Errorf("release %q, want %q", report.Release, release)
	}
	if len(report.Variants) != 3 {
		t.Fatalf("verified %d variants, want 3", len(report.Variants))
	}
	for _, v := range report.Variants {
		if len(v.Programs) != 2 {
			t.Errorf("%s: %d programs verified, want 2", v.ID, len(v.Programs))
		}
		for _, p := range v.Programs {
			if !p.Known || p.Instructions == 0 {
				t.Errorf("%s/%s: verified instructions %d (known %v)", v.ID, p.Name, p.Instructions, p.Known)
			}
			t.Logf("%s/%s: %d instructions verified on %s", v.ID, p.Name, p.Instructions, release)
		}
	}

	// Recorded in the manifest on disk, under the kernel release.
	onDisk, err := manifest.Load(filepath.Join(d.out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range onDisk.Variants {
		for _, p := range v.Programs {
			if p.Verified[release] == 0 {
				t.Errorf("manifest: %s/%s has no count for %s: %v", v.ID, p.Name, release, p.Verified)
			}
		}
	}
	// The fixture's dp_policy is pinned by name; Verify must not pin it.
	if _, err := os.Stat("/sys/fs/bpf/dp_policy"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/sys/fs/bpf/dp_policy exists after Verify (%v)", err)
	}

	// A different release name adds a second count; the first stays.
	if _, err := Verify(context.Background(), d.out, m, Options{Release: "test-release", Variants: []string{"base"}}); err != nil {
		t.Fatal(err)
	}
	onDisk, _ = manifest.Load(filepath.Join(d.out, "manifest.json"))
	base := onDisk.Variant("base")
	if p := base.Programs[0]; p.Verified[release] == 0 || p.Verified["test-release"] == 0 {
		t.Errorf("base/%s verified = %v, want both releases", p.Name, p.Verified)
	}
	if p := onDisk.Variant("policy-v2").Programs[0]; p.Verified["test-release"] != 0 {
		t.Errorf("variant outside opts.Variants was verified: %v", p.Verified)
	}
}

func TestVerifyRejected(t *testing.T) {
	requireRoot(t)
	d := newDirs(t)
	// "unverifiable" compiles but dereferences a possibly NULL map value.
	m := buildManifest(t, d, []compile.Job{job(t, "base", "base", "v1"), job(t, "unverifiable", "unverifiable", "v1")})

	report, err := Verify(context.Background(), d.out, m, Options{NoWrite: true})
	var ve *loader.ProgramError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *loader.ProgramError", err)
	}
	if ve.Variant != "unverifiable" || ve.Program != "dp_ingress" {
		t.Errorf("ProgramError names %q/%q, want unverifiable/dp_ingress", ve.Variant, ve.Program)
	}
	if want := `loading program "dp_ingress" of variant "unverifiable" on ` + release(t) + `: R0 invalid mem access 'map_value_or_null'`; ve.Error() != want {
		t.Errorf("Error() = %q\nwant       %q", ve.Error(), want)
	}
	full := fmt.Sprintf("%+v", err)
	for _, want := range []string{`program "dp_ingress" of variant "unverifiable"`, "invalid mem access 'map_value_or_null'", "processed"} {
		if !strings.Contains(full, want) {
			t.Errorf("%%+v does not contain %q:\n%s", want, full)
		}
	}
	if len(ve.Log) < 5 {
		t.Errorf("verifier log has %d lines, want the full log", len(ve.Log))
	}
	if len(errlist.Flatten(err)) != 1 {
		t.Errorf("errors: %v, want only dp_ingress (dp_egress is fine)", errlist.Flatten(err))
	}
	// The good variant was still verified.
	if len(report.Variants) != 1 || report.Variants[0].ID != "base" {
		t.Errorf("report variants %+v, want base", report.Variants)
	}
	// NoWrite: the file on disk is unchanged.
	onDisk, _ := manifest.Load(filepath.Join(d.out, "manifest.json"))
	if onDisk.Variant("base").Programs[0].Verified != nil {
		t.Errorf("NoWrite wrote the manifest")
	}
}

func TestVerifyObjectMismatch(t *testing.T) {
	d := newDirs(t)
	m := buildManifest(t, d, []compile.Job{job(t, "base", "base", "v1")})
	os.WriteFile(filepath.Join(d.out, "objects", "base.o"), []byte("not it"), 0o644)
	_, err := Verify(context.Background(), d.out, m, Options{NoWrite: true})
	if err == nil || !strings.Contains(err.Error(), "the manifest says") {
		t.Errorf("error = %v, want a hash mismatch", err)
	}
}

func release(t *testing.T) string {
	t.Helper()
	r, err := probe.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyUnknownVariant(t *testing.T) {
	m := &manifest.Manifest{Variants: []manifest.Variant{{ID: "a"}}}
	_, err := Verify(context.Background(), t.TempDir(), m, Options{Variants: []string{"b"}, Release: "x"})
	if err == nil || !strings.Contains(err.Error(), `variant "b" is not in the manifest`) {
		t.Errorf("error = %v", err)
	}
}

// TestVerifyUnprivileged runs Verify in a child process as user "nobody":
// it must fail with loader.ErrNotPermitted, which the CLI turns into "verify needs
// root".
func TestVerifyUnprivileged(t *testing.T) {
	requireRoot(t) // to switch to another user
	// Directories nobody can read: not under t.TempDir, whose parent is 0700.
	shared, err := os.MkdirTemp("", "dpforge-verify-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	d := dirs{out: filepath.Join(shared, "out"), cache: t.TempDir(), work: t.TempDir()}
	buildManifest(t, d, []compile.Job{job(t, "base", "base", "v1")})
	bin := filepath.Join(shared, "verify.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(shared, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})

	cmd := exec.Command(bin, "-test.run=^TestHelperVerifyUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), "DPFORGE_TEST_HELPER=verify", "HELPER_OUT="+d.out, "HOME=/", "GOCACHE=/nonexistent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged Verify: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !strings.Contains(string(out), "not permitted as expected") {
		t.Errorf("helper output:\n%s", out)
	}
}

func TestHelperVerifyUnprivileged(t *testing.T) {
	if os.Getenv("DPFORGE_TEST_HELPER") != "verify" {
		t.Skip("helper process for TestVerifyUnprivileged")
	}
	out := os.Getenv("HELPER_OUT")
	m, err := manifest.Load(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(context.Background(), out, m, Options{NoWrite: true})
	if !errors.Is(err, loader.ErrNotPermitted) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Verify as uid %d: %v, want loader.ErrNotPermitted", os.Geteuid(), err)
	}
	t.Logf("not permitted as expected: %v", err)
}
