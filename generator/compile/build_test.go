package compile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/bindings"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/outdir"
)

// fixture is the miniature datapath in testdata/datapath.
func fixture() fs.FS { return os.DirFS(filepath.Join("testdata", "datapath")) }

func header(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "variants", name+".h"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// job returns a job for the fixture header name; id defaults to name.
func job(t testing.TB, id, name, cpu string) Job {
	return Job{ID: id, Header: header(t, name), CPU: cpu, Target: "bpfel"}
}

// fixtureJobs are three variants: two headers, one of them at two ISA levels.
func fixtureJobs(t testing.TB) []Job {
	return []Job{
		job(t, "policy-v3", "policy", "v3"),
		job(t, "base", "base", "v1"),
		job(t, "policy-v2", "policy", "v2"),
	}
}

type dirs struct{ out, cache, work string }

func newDirs(t testing.TB) dirs {
	return dirs{out: t.TempDir(), cache: t.TempDir(), work: t.TempDir()}
}

func (d dirs) options() Options {
	return Options{
		Source:   fixture(),
		MainFile: "datapath.c",
		OutDir:   d.out,
		CacheDir: d.cache,
		WorkDir:  d.work,
	}
}

func mustBuild(t testing.TB, jobs []Job, opts Options) *Result {
	t.Helper()
	res, err := Build(context.Background(), jobs, opts)
	if err != nil {
		t.Fatalf("Build: %+v", err)
	}
	return res
}

func ids(vs []VariantResult) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

// outputTree returns every file under dir (relative path → content),
// the list of dpforge's files included.
func outputTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBuildColdThenCached(t *testing.T) {
	d := newDirs(t)
	opts := d.options()

	cold := mustBuild(t, fixtureJobs(t), opts)
	if cold.Compiled != 3 || cold.CacheHits != 0 {
		t.Fatalf("cold build: compiled %d, cache hits %d, want 3 and 0", cold.Compiled, cold.CacheHits)
	}
	if diff := cmp.Diff([]string{"base", "policy-v2", "policy-v3"}, ids(cold.Variants)); diff != "" {
		t.Errorf("variants not sorted by id (-want +got):\n%s", diff)
	}
	for _, v := range cold.Variants {
		if v.CacheHit || v.MissReason != "not cached" || v.CompileTime <= 0 {
			t.Errorf("%s: hit %v, reason %q, compile time %v", v.ID, v.CacheHit, v.MissReason, v.CompileTime)
		}
		wantProgs := []bindings.Program{{Name: "dp_egress", Type: "SchedCLS", Section: "tc"}, {Name: "dp_ingress", Type: "SchedCLS", Section: "tc"}}
		if diff := cmp.Diff(wantProgs, v.Programs); diff != "" {
			t.Errorf("%s programs (-want +got):\n%s", v.ID, diff)
		}
		var maps []string
		for _, m := range v.Maps {
			maps = append(maps, m.Name)
		}
		if diff := cmp.Diff([]string{"dp_policy", "dp_stats"}, maps); diff != "" {
			t.Errorf("%s maps (-want +got):\n%s", v.ID, diff)
		}
		if diff := cmp.Diff([]string{"dp_node_id"}, v.Variables); diff != "" {
			t.Errorf("%s variables (-want +got):\n%s", v.ID, diff)
		}
		obj, err := os.ReadFile(filepath.Join(d.out, v.ObjectPath))
		if err != nil {
			t.Fatal(err)
		}
		if cache.SHA256Hex(obj) != v.SHA256 || int64(len(obj)) != v.Size {
			t.Errorf("%s: %s does not match the result's hash and size", v.ID, v.ObjectPath)
		}
	}
	// The header reached the compiler: policy sizes its table differently.
	if got := cold.Variants[0].Maps[0].MaxEntries; got != 1024 {
		t.Errorf("base dp_policy max_entries = %d, want 1024", got)
	}
	if got := cold.Variants[1].Maps[0].MaxEntries; got != 4096 {
		t.Errorf("policy-v2 dp_policy max_entries = %d, want 4096", got)
	}
	// Different CPUs, different objects.
	if cold.Variants[1].SHA256 == cold.Variants[2].SHA256 {
		t.Errorf("policy-v2 and policy-v3 have the same object")
	}

	before := outputTree(t, d.out)
	stat := func() map[string]time.Time {
		times := map[string]time.Time{}
		for name := range before {
			fi, err := os.Stat(filepath.Join(d.out, name))
			if err != nil {
				t.Fatal(err)
			}
			times[name] = fi.ModTime()
		}
		return times
	}
	mtimes := stat()

	warm := mustBuild(t, fixtureJobs(t), opts)
	if warm.Compiled != 0 || warm.CacheHits != 3 || warm.ClangTime != 0 {
		t.Fatalf("no-op rebuild: compiled %d, cache hits %d, clang time %v; want 0, 3, 0", warm.Compiled, warm.CacheHits, warm.ClangTime)
	}
	for _, v := range warm.Variants {
		if !v.CacheHit || v.MissReason != "" {
			t.Errorf("%s: not a cache hit (%q)", v.ID, v.MissReason)
		}
	}
	if diff := cmp.Diff(before, outputTree(t, d.out)); diff != "" {
		t.Errorf("no-op rebuild changed the output (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(mtimes, stat()); diff != "" {
		t.Errorf("no-op rebuild rewrote files (-before +after):\n%s", diff)
	}
	t.Logf("fixture, 3 variants, %d CPUs: cold %v (clang %v), no-op rebuild %v", runtime.NumCPU(), cold.Wall, cold.ClangTime, warm.Wall)
}

func TestOutputLayout(t *testing.T) {
	d := newDirs(t)
	mustBuild(t, fixtureJobs(t), d.options())
	var got []string
	for name := range outputTree(t, d.out) {
		got = append(got, name)
	}
	slices.Sort(got)
	want := []string{
		".dpforge-outputs",
		"bindings/go.mod",
		"bindings/go.sum",
		"bindings/registry.go",
		"bindings/registry_bpfel.go",
		"bindings/types.go",
		"bindings/v_base/datapath_bpfel.go",
		"bindings/v_base/datapath_bpfel.o",
		"bindings/v_base/doc.go",
		"bindings/v_policy_v2/datapath_bpfel.go",
		"bindings/v_policy_v2/datapath_bpfel.o",
		"bindings/v_policy_v2/doc.go",
		"bindings/v_policy_v3/datapath_bpfel.go",
		"bindings/v_policy_v3/datapath_bpfel.o",
		"bindings/v_policy_v3/doc.go",
		"objects/base.o",
		"objects/policy-v2.o",
		"objects/policy-v3.o",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output files (-want +got):\n%s", diff)
	}
	list, _ := os.ReadFile(filepath.Join(d.out, outdir.ListName))
	if diff := cmp.Diff(strings.Join(want[1:], "\n")+"\n", string(list)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", outdir.ListName, diff)
	}
}

func TestCorruptCacheEntry(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	first := mustBuild(t, fixtureJobs(t), opts)

	// Three kinds of damage, one per variant.
	entry := func(v VariantResult) (obj, meta string) { return cache.New(d.cache).Paths(v.Key) }
	obj0, _ := entry(first.Variants[0])
	data, _ := os.ReadFile(obj0)
	data[len(data)/2] ^= 0xff
	os.WriteFile(obj0, data, 0o644)
	_, meta1 := entry(first.Variants[1])
	os.WriteFile(meta1, []byte(`{"format": 1, "key": "trunc`), 0o644)
	obj2, _ := entry(first.Variants[2])
	os.Remove(obj2)

	second := mustBuild(t, fixtureJobs(t), opts)
	if second.Compiled != 3 {
		t.Errorf("compiled %d, want 3 (every entry was damaged)", second.Compiled)
	}
	wantReasons := map[string]string{
		"base":      "corrupt cache entry (object hash mismatch)",
		"policy-v2": "corrupt cache entry (bad record)",
		"policy-v3": "corrupt cache entry (object missing)",
	}
	for _, v := range second.Variants {
		if v.MissReason != wantReasons[v.ID] {
			t.Errorf("%s: miss reason %q, want %q", v.ID, v.MissReason, wantReasons[v.ID])
		}
		if v.SHA256 != first.Variants[slices.IndexFunc(first.Variants, func(f VariantResult) bool { return f.ID == v.ID })].SHA256 {
			t.Errorf("%s: rebuilt object differs from the first build", v.ID)
		}
	}

	// Only one damaged: only that one is rebuilt; the entry is repaired.
	data, _ = os.ReadFile(obj0)
	os.WriteFile(obj0, data[:len(data)-1], 0o644)
	third := mustBuild(t, fixtureJobs(t), opts)
	if third.Compiled != 1 || third.CacheHits != 2 || third.Variants[0].CacheHit {
		t.Errorf("one corrupt entry: compiled %d, hits %d, want 1 and 2, base rebuilt", third.Compiled, third.CacheHits)
	}
	fourth := mustBuild(t, fixtureJobs(t), opts)
	if fourth.Compiled != 0 {
		t.Errorf("repaired entry not used: compiled %d", fourth.Compiled)
	}
}

func TestSystemHeaderChangeInvalidates(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	jobs := []Job{job(t, "base", "base", "v1")}
	first := mustBuild(t, jobs, opts)

	// Pretend a system header changed since the entry was stored: rewrite
	// the recorded hash of one dependency.
	_, meta := cache.New(d.cache).Paths(first.Variants[0].Key)
	raw, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("/usr/include/bpf/bpf_helpers.h")) {
		t.Fatalf("cache entry does not record bpf_helpers.h:\n%s", raw)
	}
	i := bytes.Index(raw, []byte(`"sha256": "`)) + len(`"sha256": "`)
	raw[i] = 'x'
	os.WriteFile(meta, raw, 0o644)

	second := mustBuild(t, jobs, opts)
	if second.Compiled != 1 || !strings.HasPrefix(second.Variants[0].MissReason, "dependency /usr/") {
		t.Errorf("compiled %d, reason %q; want a rebuild because a dependency changed", second.Compiled, second.Variants[0].MissReason)
	}
}

func TestDeterministicAcrossDirectories(t *testing.T) {
	// Work directories of different depths and names: a leaked path would
	// change the bytes.
	a := newDirs(t)
	b := dirs{out: t.TempDir(), cache: t.TempDir(), work: filepath.Join(t.TempDir(), "some", "much", "deeper", "work dir")}
	ra := mustBuild(t, fixtureJobs(t), a.options())
	rb := mustBuild(t, fixtureJobs(t), b.options())

	if diff := cmp.Diff(outputTree(t, a.out), outputTree(t, b.out)); diff != "" {
		t.Errorf("outputs differ between two cold builds (-a +b):\n%s", diff)
	}
	for _, r := range []*Result{ra, rb} {
		for i := range r.Variants {
			r.Variants[i].CompileTime = 0 // the only thing allowed to differ
		}
		r.Wall, r.ClangTime = 0, 0
	}
	if diff := cmp.Diff(ra, rb); diff != "" {
		t.Errorf("results differ (-a +b):\n%s", diff)
	}

	// What the manifest records of a build (flags above all) holds no path
	// of the machine either.
	recorded, err := json.Marshal(ra)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{a.work, b.work, "dpforge-build-"} {
		for name, data := range outputTree(t, a.out) {
			if strings.Contains(data, leak) {
				t.Errorf("%s contains %q", name, leak)
			}
		}
		if strings.Contains(string(recorded), leak) {
			t.Errorf("the build result contains %q", leak)
		}
	}
}

func TestCompileErrorNamesVariant(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	// "flaky" builds first, then its header breaks: the output directory
	// keeps the first build, whole.
	mustBuild(t, []Job{job(t, "base", "base", "v1"), job(t, "flaky", "policy", "v1")}, opts)
	good := outputTree(t, d.out)

	var events []Event
	opts.Progress = func(e Event) { events = append(events, e) }
	res, err := Build(context.Background(), []Job{job(t, "base", "base", "v1"), job(t, "flaky", "broken", "v1")}, opts)
	if err == nil {
		t.Fatal("Build succeeded with a broken header")
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CompileError", err)
	}
	if ce.Variant != "flaky" {
		t.Errorf("CompileError.Variant = %q, want flaky", ce.Variant)
	}
	const diag = `datapath.c:15:2: error: "dp_variant.h must define DP_POLICY_ENTRIES"`
	if !strings.Contains(ce.Stderr, diag) {
		t.Errorf("stderr does not contain %q:\n%s", diag, ce.Stderr)
	}
	if short := ce.Error(); !strings.Contains(short, `variant "flaky"`) || !strings.Contains(short, diag) {
		t.Errorf("Error() = %q, want the variant and the first diagnostic", short)
	}
	full := fmt.Sprintf("%+v", err)
	if !strings.Contains(full, `variant "flaky"`) || !strings.Contains(full, "2 errors generated") {
		t.Errorf("%%+v does not show the variant and the whole stderr:\n%s", full)
	}
	if strings.Contains(ce.Stderr, d.work) {
		t.Errorf("stderr mentions the temporary directory:\n%s", ce.Stderr)
	}

	// The other variant finished; the output is the previous build's.
	if diff := cmp.Diff([]string{"base"}, ids(res.Variants)); diff != "" {
		t.Errorf("built variants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"flaky"}, res.Failed); diff != "" {
		t.Errorf("failed variants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(good, outputTree(t, d.out)); diff != "" {
		t.Errorf("a failed build changed the output directory (-before +after):\n%s", diff)
	}
	if res.Files != nil {
		t.Errorf("a failed build returned files")
	}
	var failed int
	for _, e := range events {
		if e.Kind == VariantFailed {
			failed++
			if e.Variant != "flaky" || e.Err == nil {
				t.Errorf("failure event %+v", e)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failure events, want 1", failed)
	}
	// Nothing was cached for the failed compile.
	entries, _ := filepath.Glob(filepath.Join(d.cache, "*", "*.o"))
	if len(entries) != 2 {
		t.Errorf("cache holds %d objects, want 2 (base and the good flaky)", len(entries))
	}
}

func TestAPIMismatch(t *testing.T) {
	d := newDirs(t)
	res, err := Build(context.Background(), []Job{job(t, "base", "base", "v1"), job(t, "noegress", "noegress", "v1")}, d.options())
	var me *bindings.APIMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want an *bindings.APIMismatchError", err)
	}
	want := &bindings.APIMismatchError{Variant: "noegress", Reference: "base", Missing: []string{"program dp_egress (SchedCLS)"}}
	if diff := cmp.Diff(want, me); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	for _, s := range []string{`"noegress"`, `"base"`, "dp_egress"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if len(res.Variants) != 2 {
		t.Errorf("both variants compiled, got %v", ids(res.Variants))
	}
}

// TestTypesMismatch: variants with the same names but a map key of another
// layout cannot share the registry's Go types; the build says which.
func TestTypesMismatch(t *testing.T) {
	d := newDirs(t)
	_, err := Build(context.Background(), []Job{job(t, "base", "base", "v1"), job(t, "widenode", "widenode", "v1")}, d.options())
	var te *bindings.TypesMismatchError
	if !errors.As(err, &te) || te.Variant != "widenode" || te.Reference != "base" {
		t.Fatalf("error %v, want a *TypesMismatchError for widenode", err)
	}
	if errors.As(err, new(*bindings.APIMismatchError)) {
		t.Errorf("the names are the same, yet %v", err)
	}
}

func TestStaleOutputsRemoved(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	mustBuild(t, fixtureJobs(t), opts)
	// A file dpforge did not write survives.
	mine := filepath.Join(d.out, "objects", "README")
	os.WriteFile(mine, []byte("mine"), 0o644)

	mustBuild(t, []Job{job(t, "base", "base", "v1")}, opts)
	var got []string
	for name := range outputTree(t, d.out) {
		got = append(got, name)
	}
	slices.Sort(got)
	want := []string{
		".dpforge-outputs",
		"bindings/go.mod", "bindings/go.sum", "bindings/registry.go", "bindings/registry_bpfel.go", "bindings/types.go",
		"bindings/v_base/datapath_bpfel.go", "bindings/v_base/datapath_bpfel.o", "bindings/v_base/doc.go",
		"objects/README", "objects/base.o",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files after dropping two variants (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(d.out, "bindings", "v_policy_v2")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty bindings directory of a dropped variant remains")
	}
}

func TestKilledBuildLeftovers(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	first := mustBuild(t, fixtureJobs(t), opts)
	c := cache.New(d.cache)

	// What a build killed at various moments leaves: temporary files in a
	// cache shard and in the output directory, an object without its record
	// (killed between the two renames), and in the output an object a
	// killed rename never replaced.
	obj0, meta0 := c.Paths(first.Variants[0].Key)
	shard := filepath.Dir(obj0)
	old := time.Now().Add(-time.Hour) // older than any live build's temporary file
	temps := []string{
		filepath.Join(shard, ".dpforge-tmp-"+filepath.Base(obj0)+"-123"),
		filepath.Join(d.out, "objects", ".dpforge-tmp-base.o-456"),
		filepath.Join(d.out, "bindings", "v_base", ".dpforge-tmp-datapath_bpfel.go-789"),
	}
	for _, p := range temps {
		if !atomicfile.IsTemp(p) {
			t.Fatalf("%s is not named like a temporary file", p)
		}
		os.WriteFile(p, []byte("half a file"), 0o644)
		os.Chtimes(p, old, old)
	}
	young := filepath.Join(shard, ".dpforge-tmp-"+filepath.Base(meta0)+"-999")
	os.WriteFile(young, []byte("a concurrent build's"), 0o644)
	os.Remove(meta0)
	os.WriteFile(filepath.Join(d.out, "objects", "base.o"), []byte("garbage"), 0o644)

	second := mustBuild(t, fixtureJobs(t), opts)
	if second.Variants[0].CacheHit || second.Variants[0].MissReason != "not cached" {
		t.Errorf("object without record used as an entry (reason %q)", second.Variants[0].MissReason)
	}
	if second.CacheHits != 2 {
		t.Errorf("cache hits %d, want 2", second.CacheHits)
	}
	for _, p := range temps {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("leftover %s not cleaned", p)
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a fresh temporary file in the shared cache was removed: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(d.out, "objects", "base.o"))
	if cache.SHA256Hex(data) != first.Variants[0].SHA256 {
		t.Errorf("objects/base.o not restored")
	}
}

// TestKilledBuild kills real builds (a child process running Build) at
// several moments, then checks that the next build is correct: same objects
// as an undisturbed build, every cache entry valid.
func TestKilledBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child builds; slow")
	}
	ref := newDirs(t)
	want := mustBuild(t, fixtureJobs(t), ref.options())

	d := newDirs(t)
	for _, delay := range []time.Duration{5, 30, 80, 150, 250, 400, 700} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBuild$")
		cmd.Env = append(os.Environ(), "DPFORGE_TEST_HELPER=build", "HELPER_OUT="+d.out, "HELPER_CACHE="+d.cache, "HELPER_WORK="+d.work)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		// Its clang children die with it or finish on their own; give them
		// a moment so they do not race the check below.
		time.Sleep(50 * time.Millisecond)
	}
	got := mustBuild(t, fixtureJobs(t), d.options())
	for i, v := range got.Variants {
		if v.SHA256 != want.Variants[i].SHA256 {
			t.Errorf("%s: object after killed builds differs from an undisturbed build", v.ID)
		}
		data, err := os.ReadFile(filepath.Join(d.out, v.ObjectPath))
		if err != nil || cache.SHA256Hex(data) != v.SHA256 {
			t.Errorf("%s: %s wrong after killed builds (%v)", v.ID, v.ObjectPath, err)
		}
	}
	if diff := cmp.Diff(outputTree(t, ref.out), outputTree(t, d.out)); diff != "" {
		t.Errorf("output after killed builds differs (-undisturbed +got):\n%s", diff)
	}
	again := mustBuild(t, fixtureJobs(t), d.options())
	if again.Compiled != 0 {
		t.Errorf("cache not complete after recovery: compiled %d", again.Compiled)
	}
	t.Logf("recovery build compiled %d of %d", got.Compiled, len(got.Variants))
}

// TestHelperBuild is the child process of TestKilledBuild.
func TestHelperBuild(t *testing.T) {
	if os.Getenv("DPFORGE_TEST_HELPER") != "build" {
		t.Skip("helper process for TestKilledBuild")
	}
	d := dirs{out: os.Getenv("HELPER_OUT"), cache: os.Getenv("HELPER_CACHE"), work: os.Getenv("HELPER_WORK")}
	Build(context.Background(), fixtureJobs(t), d.options())
}

func TestVerifyCache(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	mustBuild(t, fixtureJobs(t), opts)
	opts.VerifyCache = true
	res := mustBuild(t, fixtureJobs(t), opts)
	if res.CacheHits != 3 || res.ClangTime == 0 {
		t.Errorf("verify mode: hits %d, clang time %v; want 3 hits, each compiled again", res.CacheHits, res.ClangTime)
	}
}

func TestProgressEvents(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	var events []Event
	opts.Progress = func(e Event) { events = append(events, e) }
	mustBuild(t, fixtureJobs(t), opts)
	count := map[EventKind]int{}
	for _, e := range events {
		count[e.Kind]++
		if e.Total != 3 {
			t.Errorf("event %+v: total %d", e, e.Total)
		}
	}
	if count[VariantStarted] != 3 || count[VariantCompiled] != 3 {
		t.Errorf("cold build events %v", count)
	}
	if last := events[len(events)-1]; last.Done != 3 {
		t.Errorf("last event done = %d, want 3", last.Done)
	}
	events = nil
	mustBuild(t, fixtureJobs(t), opts)
	for _, e := range events {
		if e.Kind == VariantCompiled {
			t.Errorf("no-op rebuild compiled: %+v", e)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	d := newDirs(t)
	for _, tc := range []struct {
		name string
		jobs []Job
		edit func(*Options)
		want string
	}{
		{"bad id", []Job{{ID: "Base_1", CPU: "v1", Target: "bpfel"}}, nil, `job "Base_1": id must match`},
		{"duplicate id", []Job{{ID: "a", CPU: "v1", Target: "bpfel"}, {ID: "a", CPU: "v1", Target: "bpfel"}}, nil, `job "a": duplicate id`},
		{"cpu", []Job{{ID: "a", CPU: "v4", Target: "bpfel"}}, nil, `cpu "v4", want v1, v2 or v3`},
		{"target", []Job{{ID: "a", CPU: "v1", Target: "amd64"}}, nil, `target "amd64", want bpfel or bpfeb`},
		{"no source", nil, func(o *Options) { o.Source = nil }, "Options.Source is nil"},
		{"main missing", nil, func(o *Options) { o.MainFile = "nope.c" }, `main file "nope.c" not in the source tree`},
		{"shadowing header", nil, func(o *Options) {
			o.Source = os.DirFS(t.TempDir())
			os.WriteFile(filepath.Join(fmt.Sprint(o.Source), headerName), nil, 0o644)
			os.WriteFile(filepath.Join(fmt.Sprint(o.Source), "main.c"), nil, 0o644)
			o.MainFile = "main.c"
		}, "must not contain dp_variant.h"},
		{"compiler missing", nil, func(o *Options) { o.CC = "clang-0" }, `finding "clang-0" (set $DPFORGE_CC`},
		{"import path", nil, func(o *Options) { o.GoImportPath = "a b" }, `invalid Go import path "a b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := d.options()
			if tc.edit != nil {
				tc.edit(&opts)
			}
			_, err := Build(context.Background(), tc.jobs, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCancelledBuildKeepsOutput(t *testing.T) {
	d := newDirs(t)
	opts := d.options()
	mustBuild(t, fixtureJobs(t), opts)
	before := outputTree(t, d.out)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, []Job{job(t, "other", "base", "v2")}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(before, outputTree(t, d.out)); diff != "" {
		t.Errorf("cancelled build changed the output (-before +after):\n%s", diff)
	}
}

func TestParseDepFile(t *testing.T) {
	in := "/w/out/datapath.o: /w/src/datapath.c \\\n  /usr/include/linux/bpf.h ../variant/dp_variant.h \\\n  include/common.h /odd\\ name.h /a$$b.h\n"
	got, err := parseDepFile([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/w/src/datapath.c", "/usr/include/linux/bpf.h", "../variant/dp_variant.h", "include/common.h", "/odd name.h", "/a$b.h"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
	sys := systemDeps(append(got, "/usr/include/linux/bpf.h"), "/w")
	if diff := cmp.Diff([]string{"/a$b.h", "/odd name.h", "/usr/include/linux/bpf.h"}, sys); diff != "" {
		t.Errorf("system deps (-want +got):\n%s", diff)
	}
}

func TestCompileErrorFormat(t *testing.T) {
	err := fmt.Errorf("building: %w", &CompileError{
		Variant: "v",
		Stderr:  "datapath.c:1:1: warning: w\ndatapath.c:2:1: error: e\n1 error generated.\n",
		Err:     errors.New("exit status 1"),
	})
	var ce *CompileError
	errors.As(err, &ce)
	if got, want := ce.Error(), `compiling variant "v": exit status 1: datapath.c:2:1: error: e`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%+v", ce); !strings.HasSuffix(got, "warning: w\ndatapath.c:2:1: error: e\n1 error generated.") {
		t.Errorf("%%+v = %q", got)
	}
	// Joined with others, as Build returns it, %+v still reaches it.
	joined := errlist.Join(errors.New("other"), ce)
	if got := fmt.Sprintf("%+v", joined); !strings.Contains(got, "other\ncompiling variant") || !strings.HasSuffix(got, "1 error generated.") {
		t.Errorf("%%+v of the joined error = %q", got)
	}
}

func TestToolOverridesFromEnvironment(t *testing.T) {
	d := newDirs(t)
	// make exports DPFORGE_CC and DPFORGE_STRIP; clear both first.
	t.Setenv("DPFORGE_STRIP", "")
	t.Setenv("DPFORGE_CC", "clang-0")
	_, err := Build(context.Background(), nil, d.options())
	if err == nil || !strings.Contains(err.Error(), `finding "clang-0" (set $DPFORGE_CC`) {
		t.Errorf("error = %v, want it to name the missing compiler and $DPFORGE_CC", err)
	}
	t.Setenv("DPFORGE_CC", "")
	t.Setenv("DPFORGE_STRIP", "llvm-strip-0")
	_, err = Build(context.Background(), nil, d.options())
	if err == nil || !strings.Contains(err.Error(), `finding "llvm-strip-0" (set $DPFORGE_STRIP`) {
		t.Errorf("error = %v, want it to name the missing strip tool", err)
	}
}
