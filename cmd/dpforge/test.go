package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/bpf/scenario"
	"github.com/dpforge/dpforge/generator/verify"
)

// defaultScenarios is where `dpforge test` looks for scenarios when none
// are named.
const defaultScenarios = "testdata/scenarios"

type testResult struct {
	Scenario   string   `json:"scenario"`
	File       string   `json:"file,omitempty"`
	Variant    string   `json:"variant"`
	Kernel     string   `json:"kernel,omitempty"`
	Status     string   `json:"status"`
	Failures   []string `json:"failures,omitempty"`
	Error      string   `json:"error,omitempty"`
	DurationUS int64    `json:"duration_us"`
}

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("test", "test [-f MATRIX] [--cilium-version 1.X] [--out DIR] [--scenarios DIR] [-o text|json] [SCENARIO...]",
		"sudo dpforge test                       # every scenario of testdata/scenarios on the default matrix\n  sudo dpforge test -f cluster.yaml testdata/scenarios/policy-deny.yaml", stderr)
	matrix := fs.StringP("file", "f", "", "feature matrix (default: the embedded default matrix)")
	outDir := fs.String("out", "out", "build output directory; variants are built there first")
	dir := fs.String("scenarios", defaultScenarios, "directory of scenarios, used when none are named")
	jobs := fs.IntP("jobs", "j", runtime.NumCPU(), "parallel compiles")
	verbose := fs.BoolP("verbose", "v", false, "list passing scenarios too")
	vms := fs.StringArray("vm", nil, "run inside a Debian kernel series booted under qemu instead (5.10, 6.1, ...; default, oldest, newest); repeatable")
	vmJobs := fs.Int("vm-jobs", runtime.NumCPU(), "machines booted at once")
	traffic := fs.Bool("traffic", false, "with --vm: also run the loader's traffic suite in each kernel (two nodes in network namespaces, real packets)")
	trafficTests := fs.StringSlice("traffic-tests", nil, "with --traffic: the suite's tests to run (default: all traffic tests)")
	slow := fs.Int("slow", 4, "with --traffic: how many times slower than this machine the emulated guest is taken to be (timeouts scale with it)")
	out := outputFlag(fs)
	in := addInputFlags(fs, false)
	if code := fs.parse(args); code >= 0 {
		return code
	}
	if *jobs < 1 {
		return fs.usageError("-j must be at least 1, not %d", *jobs)
	}
	if *traffic && len(*vms) == 0 {
		return fs.usageError("--traffic runs inside VM kernels: name them with --vm")
	}
	if *slow < 1 {
		return fs.usageError("--slow must be at least 1, not %d", *slow)
	}
	scenarios, err := loadScenarios(*dir, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	if os.Geteuid() != 0 && len(*vms) == 0 {
		fmt.Fprintln(stderr, "dpforge test: running packets through BPF programs (BPF_PROG_TEST_RUN) needs root")
		return exitProblems
	}
	p, diags, err := loadPlan(*matrix, in, "")
	if err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	if p == nil || diags.HasErrors() {
		printDiags(stderr, diags, false)
		fmt.Fprintln(stderr, "dpforge test: the matrix is invalid; nothing tested")
		return exitProblems
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := execute(ctx, p, *outDir, *jobs, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	m := r.Manifest
	if len(*vms) > 0 {
		var tr *trafficConfig
		if *traffic {
			tr = &trafficConfig{tests: *trafficTests, slow: *slow}
		}
		return runTestVMs(ctx, p, *outDir, m, scenarios, *vms, *vmJobs, tr, *out == "json", *verbose, stdout, stderr)
	}
	results, unused := runScenarios(*outDir, m, scenarios)
	recordTests(m, results)
	if err := verify.WriteManifest(filepath.Join(*outDir, "manifest.json"), m); err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	failed := 0
	for _, r := range results {
		if r.Status != "pass" {
			failed++
		}
	}
	if *out == "json" {
		writeJSON(stdout, map[string]any{"results": results})
	} else {
		writeTestText(stdout, results, *verbose)
		fmt.Fprintf(stdout, "%s on %s: %d passed, %d failed\n", plural(len(results), "run"),
			plural(len(m.Variants), "variant"), len(results)-failed, failed)
	}
	for _, name := range unused {
		fmt.Fprintf(stderr, "dpforge test: warning: scenario %q applies to no variant of this matrix\n", name)
	}
	if failed > 0 {
		return exitProblems
	}
	return exitOK
}

// loadScenarios reads the named scenario files, or every scenario of dir.
func loadScenarios(dir string, files []string) ([]*scenario.Scenario, error) {
	if len(files) == 0 {
		ss, err := scenario.LoadDir(dir)
		if err != nil {
			return nil, err
		}
		if len(ss) == 0 {
			return nil, fmt.Errorf("no scenarios in %s", dir)
		}
		return ss, nil
	}
	var out []*scenario.Scenario
	seen := map[string]string{}
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Name]; dup {
			return nil, fmt.Errorf("scenario %q is defined in %s and %s", s.Name, prev, f)
		}
		seen[s.Name] = f
		out = append(out, s)
	}
	return out, nil
}

// runScenarios runs every scenario on every variant it applies to, the
// variants side by side (one at a time per CPU: the verifier's loads are
// most of the time, and each takes one CPU), the results in variant then
// scenario order. It also returns the scenarios that applied to no variant.
func runScenarios(outDir string, m *manifest.Manifest, scenarios []*scenario.Scenario) ([]testResult, []string) {
	perVariant := make([][]testResult, len(m.Variants))
	applied := map[string]bool{}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range m.Variants {
		var mine []*scenario.Scenario
		for _, s := range scenarios {
			if scenarioApplies(s, m.Variants[i].Defines) {
				mine = append(mine, s)
				applied[s.Name] = true
			}
		}
		if len(mine) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			perVariant[i] = runVariantScenarios(outDir, &m.Variants[i], mine)
		}()
	}
	wg.Wait()
	var results []testResult
	for _, rs := range perVariant {
		results = append(results, rs...)
	}
	var unused []string
	for _, s := range scenarios {
		if !applied[s.Name] {
			unused = append(unused, s.Name)
		}
	}
	sort.Strings(unused)
	return results, unused
}

// runVariantScenarios runs scenarios, which apply to v, on v's object with
// one scenario.Runner.
func runVariantScenarios(outDir string, v *manifest.Variant, scenarios []*scenario.Scenario) []testResult {
	var results []testResult
	spec, loadErr := loader.VariantSpec(outDir, v)
	var runner *scenario.Runner
	if loadErr == nil {
		runner = scenario.NewRunner(spec, scenarios)
		defer runner.Close()
	}
	for _, s := range scenarios {
		tr := testResult{Scenario: s.Name, File: s.File, Variant: v.ID, Kernel: hostRelease()}
		if loadErr != nil {
			tr.Status, tr.Error = "fail", loadErr.Error()
			results = append(results, tr)
			continue
		}
		res, err := runner.Run(s)
		if err != nil {
			tr.Status, tr.Error = "fail", fmt.Sprintf("%+v", err)
			results = append(results, tr)
			continue
		}
		tr.Status, tr.DurationUS = string(res.Status), res.Duration.Microseconds()
		for _, f := range res.Failures() {
			tr.Failures = append(tr.Failures, f.String())
		}
		results = append(results, tr)
	}
	return results
}

// recordTests stores, per variant, how many scenarios passed and failed on
// each kernel release, in the manifest.
func recordTests(m *manifest.Manifest, results []testResult) {
	sums := map[string]map[string]manifest.TestSummary{}
	for _, r := range results {
		if sums[r.Variant] == nil {
			sums[r.Variant] = map[string]manifest.TestSummary{}
		}
		s := sums[r.Variant][r.Kernel]
		if r.Status == "pass" {
			s.Passed++
		} else {
			s.Failed++
		}
		sums[r.Variant][r.Kernel] = s
	}
	for id, byKernel := range sums {
		v := m.Variant(id)
		if v == nil {
			continue
		}
		if v.Tested == nil {
			v.Tested = map[string]manifest.TestSummary{}
		}
		for k, s := range byKernel {
			v.Tested[k] = s
		}
	}
}

func writeTestText(w io.Writer, results []testResult, verbose bool) {
	variant := ""
	for _, r := range results {
		if r.Status == "pass" && !verbose {
			continue
		}
		if r.Variant != variant {
			fmt.Fprintf(w, "variant %s\n", r.Variant)
			variant = r.Variant
		}
		fmt.Fprintf(w, "  %s %s", strings.ToUpper(r.Status), r.Scenario)
		if r.File != "" {
			fmt.Fprintf(w, " (%s)", r.File)
		}
		fmt.Fprintln(w)
		if r.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", strings.ReplaceAll(r.Error, "\n", "\n    "))
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(f, "\n", "\n    "))
		}
	}
}
