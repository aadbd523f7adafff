package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/bpf/scenario"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/plan"
	"github.com/dpforge/dpforge/generator/verify"
	"github.com/dpforge/dpforge/generator/vm"
)

// vmRun is what one kernel under qemu gave.
type vmRun struct {
	Series  string `json:"series"`
	Release string `json:"kernel"`
	Version string `json:"version"`
	// Variants run there; Skipped those the model says do not fit, with
	// the reason.
	Variants []string          `json:"variants"`
	Skipped  map[string]string `json:"skipped,omitempty"`
	// Results of the scenarios, in variant then scenario order.
	Results []testResult `json:"results"`
	// Errors are load failures and machine failures: each fails the run.
	Errors []string `json:"errors,omitempty"`
	// Probe is what the kernel's probe found, Inconclusive what it could
	// not decide and why.
	Probe        map[string]bool   `json:"probe,omitempty"`
	Inconclusive map[string]string `json:"probe_inconclusive,omitempty"`
	// Model lists the capabilities where the probe disagreed with the
	// model's table; those without an exception fail the run.
	Model []string `json:"model_differences,omitempty"`
	// Headroom lists programs that use more than 80% of a limit.
	Headroom []string `json:"headroom_warnings,omitempty"`
	// Machines is how many machines shared the kernel's objects; BootMS
	// and TotalMS add up their boots and their whole runs.
	Machines int   `json:"machines"`
	BootMS   int64 `json:"boot_ms"`
	TotalMS  int64 `json:"total_ms"`
	// Time is where the guest's time went.
	Time vmTime `json:"time"`
	// Traffic is the traffic suite's run there, with --traffic.
	Traffic *trafficRun `json:"traffic,omitempty"`
	failed  bool
	report  *vm.Report
	// kernel is the kernel fetched for the run, which the traffic suite
	// boots again.
	kernel *vm.Kernel
}

// vmTime splits a guest's run, by the guest's clock: the counting loads
// of every object, and the scenarios, of which their loads.
type vmTime struct {
	VerifyMS             int64  `json:"verify_ms"`
	ScenarioMS           int64  `json:"scenario_ms"`
	ScenarioLoads        int    `json:"scenario_loads"`
	ScenarioLoadMS       int64  `json:"scenario_load_ms"`
	ScenarioInstructions uint64 `json:"scenario_instructions,omitempty"`
}

func (t *vmTime) add(o vm.ObjectReport) {
	t.VerifyMS += o.Duration.Milliseconds()
	for _, s := range o.Scenarios {
		t.ScenarioMS += s.Duration.Milliseconds()
	}
	t.ScenarioLoads += o.ScenarioLoads
	t.ScenarioLoadMS += o.ScenarioLoadTime.Milliseconds()
	t.ScenarioInstructions += o.ScenarioInstructions
}

// trafficConfig is what --traffic asks for.
type trafficConfig struct {
	tests []string
	slow  int
	// binary and fixtures are the suite and its builds, made once.
	binary, fixtures string
}

// trafficRun is the traffic suite on one kernel.
type trafficRun struct {
	Passed  int               `json:"passed"`
	Failed  int               `json:"failed"`
	Skipped int               `json:"skipped"`
	Cases   []vm.TrafficCase  `json:"cases"`
	Modules []string          `json:"modules,omitempty"`
	Attach  map[string]string `json:"attach,omitempty"`
	// Foreign counts cases whose variant is not in this build's manifest
	// (the suite runs the default matrix's nodes).
	Foreign int      `json:"not_in_manifest,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	// NotRun says why the suite could not run on this kernel at all
	// (its modules cannot be had); that is not a failure.
	NotRun  string `json:"not_run,omitempty"`
	TotalMS int64  `json:"total_ms"`
	report  *vm.TrafficReport
}

// testVMs runs, on each kernel series under qemu, every variant the model
// says fits it: the agent loads every program (counts and verifier
// statistics go to the manifest), runs the scenarios that apply, and
// probes the kernel, whose capabilities are compared with the model's
// table.
func testVMs(ctx context.Context, p *plan.Plan, outDir string, m *manifest.Manifest,
	scenarios []*scenario.Scenario, args []string, jobs int, traffic *trafficConfig) ([]*vmRun, error) {
	if err := vm.EnsureTools(ctx); err != nil {
		return nil, err
	}
	if traffic != nil {
		// The suite and its fixture builds, once for every kernel.
		bin, err := vm.TrafficBinary(ctx, "")
		if err != nil {
			return nil, err
		}
		if traffic.fixtures, err = vm.TrafficFixtures(ctx, bin); err != nil {
			return nil, err
		}
		traffic.binary = bin
	}
	series, err := vm.Series(ctx, "", args)
	if err != nil {
		return nil, err
	}
	all, err := vm.ManifestObjects(outDir, m)
	if err != nil {
		return nil, err
	}
	runs := make([]*vmRun, len(series))
	jobs = max(jobs, 1)
	sl, order := newSlots(jobs), newTurns(series)
	var wg sync.WaitGroup
	for i, s := range series {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each kernel's objects are shared among as many machines
			// as run at once, so that the slowest kernel (the newest
			// verifiers do the most work) does not finish alone.
			runs[i] = testVM(ctx, p, all, scenarios, s, s == oldestSeries(series), jobs, sl, order, i)
			if traffic != nil && runs[i].kernel != nil {
				<-sl.enqueue()
				runs[i].Traffic = testTraffic(ctx, m, runs[i].kernel, traffic)
				sl.release()
				runs[i].failed = runs[i].failed || len(runs[i].Traffic.Errors) > 0
			}
		}()
	}
	wg.Wait()
	return runs, nil
}

// verifySplit deals objects into at most n machines of about equal work
// (scenarios and a counting load each), queues them all in sl, then calls
// queued, runs each when sl lets it, and merges their reports into one:
// objects in the given order, the probe of the first machine (the only one
// asked), boot and run times added up.
func verifySplit(ctx context.Context, k *vm.Kernel, objects []vm.Object, n int, sl *slots, queued func()) (*vm.Report, error) {
	parts := splitObjects(objects, n)
	reps := make([]*vm.Report, len(parts))
	errs := make([]error, len(parts))
	start := make([]<-chan struct{}, len(parts))
	for i := range parts {
		start[i] = sl.enqueue()
	}
	queued()
	var wg sync.WaitGroup
	for i, part := range parts {
		// Under emulation a scenario load takes a few seconds (its
		// programs are verified again with its values); allow for a
		// loaded machine.
		timeout := vm.DefaultTimeout
		for _, o := range part {
			timeout += 10*time.Second + time.Duration(len(o.Scenarios))*3*time.Second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start[i]
			defer sl.release()
			reps[i], errs[i] = vm.Verify(ctx, k, part, vm.Options{Probe: i == 0, Timeout: timeout})
		}()
	}
	wg.Wait()
	var merged *vm.Report
	byName := map[string]vm.ObjectReport{}
	for _, r := range reps {
		if r == nil {
			continue
		}
		for _, o := range r.Objects {
			byName[o.Name] = o
		}
		if merged == nil {
			c := *r
			merged = &c
			continue
		}
		merged.Warnings = append(merged.Warnings, r.Warnings...)
		merged.Boot += r.Boot
		merged.Total += r.Total
		if merged.Probe == nil {
			merged.Probe = r.Probe
		}
	}
	if merged != nil {
		merged.Objects = nil
		for _, o := range objects {
			if or, ok := byName[o.Name]; ok {
				merged.Objects = append(merged.Objects, or)
			}
		}
	}
	return merged, errlist.Join(errs...)
}

// splitObjects deals objects into at most n parts, heaviest first into the
// lightest part, weighing each by its scenarios plus its counting load;
// each part keeps the given order.
func splitObjects(objects []vm.Object, n int) [][]vm.Object {
	n = max(min(n, len(objects)), 1)
	weight := func(o vm.Object) int { return len(o.Scenarios) + 3 }
	order := make([]int, len(objects))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return weight(objects[b]) - weight(objects[a]) })
	load := make([]int, n)
	part := make([]int, len(objects))
	for _, i := range order {
		j := slices.Index(load, slices.Min(load))
		part[i] = j
		load[j] += weight(objects[i])
	}
	parts := make([][]vm.Object, n)
	for i, o := range objects {
		parts[part[i]] = append(parts[part[i]], o)
	}
	return parts
}

// testVM runs one kernel series, the i-th, on as many machines (machines,
// at most), queued in sl when its turn comes, each booted when sl lets it.
// oldestHere: series is the oldest of the run.
func testVM(ctx context.Context, p *plan.Plan, all []vm.Object, scenarios []*scenario.Scenario, series string,
	oldestHere bool, machines int, sl *slots, order *turns, i int) *vmRun {
	defer order.pass(i) // also when it fails before queueing
	run := &vmRun{Series: series, Skipped: map[string]string{}}
	fail := func(format string, args ...any) {
		run.Errors = append(run.Errors, fmt.Sprintf(format, args...))
		run.failed = true
	}
	k, err := vm.Fetch(ctx, series, "")
	if err != nil {
		fail("%v", err)
		return run
	}
	run.kernel, run.Release, run.Version = k, k.Release, k.Version
	version, err := features.ParseVersion(k.Version)
	if err != nil {
		fail("kernel %s: %v", k.Release, err)
		return run
	}
	model := features.Kernel{Name: k.Release, Version: version, Release: k.Release}
	var objects []vm.Object
	byName := map[string]map[string]*scenario.Scenario{}
	// Objects for kernels without global data (older than any kernel
	// here) are loaded on the oldest kernel of the run, the nearest to
	// theirs, after a check against their own kernel; newer ones say
	// nothing more of a 4.19 node, and the newest verifiers spend the
	// most on them.
	oldest := map[string]features.Version{}
	for _, o := range all {
		v := p.Variant(o.Name)
		if v == nil {
			continue
		}
		defines := map[string]string{}
		for _, d := range v.Defines {
			defines[d.Name] = d.Value
		}
		ok, why := p.Fits(v, model)
		if _, static := defines[features.StaticConfigDefine]; static {
			if oldestHere {
				oldest[v.ID], ok = oldestKernel(p, v.ID), true
			} else if !ok {
				why = fmt.Sprintf("compiled-in values for kernel %s, loaded on the oldest kernel of the run only (%s)", oldestKernel(p, v.ID).Short(), why)
			}
		}
		if !ok {
			run.Skipped[v.ID] = why
			continue
		}
		byName[v.ID] = map[string]*scenario.Scenario{}
		for _, s := range scenarios {
			if scenarioApplies(s, defines) && s.File != "" {
				o.Scenarios = append(o.Scenarios, s.File)
				byName[v.ID][s.File] = s
			}
		}
		objects = append(objects, o)
		run.Variants = append(run.Variants, v.ID)
	}
	order.wait(i)
	rep, err := verifySplit(ctx, k, objects, machines, sl, func() { order.pass(i) })
	for _, e := range errlist.Flatten(err) {
		fail("%+v", e)
	}
	if rep == nil {
		return run
	}
	run.report = rep
	run.Release = rep.Release
	run.Machines = min(machines, len(objects))
	run.BootMS, run.TotalMS = rep.Boot.Milliseconds(), rep.Total.Milliseconds()
	for _, o := range rep.Objects {
		run.Time.add(o)
		if k, ok := oldest[o.Name]; ok {
			// The verified-instruction limit of kernels before 5.2 is
			// checked against the oldest series here, whose verifier is
			// the nearest to theirs: newer verifiers track more precisely
			// and may process several times the instructions on the
			// same program (6.19 more than six times 5.10's), which says
			// nothing of a 4.19 verifier.
			var verified map[string]uint32
			if series == vm.OldestSeries {
				verified = map[string]uint32{}
				for _, pr := range o.Programs {
					verified[pr.Name] = pr.Instructions
				}
			}
			path := ""
			for _, obj := range objects {
				if obj.Name == o.Name {
					path = obj.Path
				}
			}
			problems, err := vm.CheckOldKernel(path, k, verified)
			if err != nil {
				fail("variant %s: %v", o.Name, err)
			}
			for _, pr := range problems {
				fail("variant %s, for kernel %s: %s", o.Name, k, pr)
			}
		}
		for _, sr := range o.Scenarios {
			tr := testResult{Scenario: sr.Name, File: sr.File, Variant: o.Name, Kernel: rep.Release,
				Status: "pass", Failures: sr.Failures, Error: sr.Error, DurationUS: sr.Duration.Microseconds()}
			if s := byName[o.Name][sr.File]; s != nil && tr.Scenario == "" {
				tr.Scenario = s.Name
			}
			if !sr.Passed {
				tr.Status = "fail"
				run.failed = true
			}
			run.Results = append(run.Results, tr)
		}
		for _, pr := range o.Programs {
			h := manifest.Headroom{Instructions: pr.Instructions, InsnLimit: pr.InsnLimit, StackDepth: pr.StackDepth}
			if tight := h.Tight(); len(tight) > 0 {
				run.Headroom = append(run.Headroom, fmt.Sprintf("variant %s program %s on %s: %s", o.Name, pr.Name, rep.Release, strings.Join(tight, ", ")))
			}
		}
	}
	if rep.Probe == nil {
		fail("kernel %s: the agent did not probe the kernel", rep.Release)
		return run
	}
	run.Probe, run.Inconclusive = rep.Probe.Capabilities, rep.Probe.Inconclusive
	probed := map[features.Capability]bool{}
	for c, ok := range rep.Probe.Capabilities {
		probed[features.Capability(c)] = ok
	}
	for _, mm := range features.CompareProbe(rep.Release, version, rep.KernelVersion, probed) {
		run.Model = append(run.Model, mm.String())
		if mm.Exception == "" {
			run.failed = true
		}
	}
	return run
}

// testTraffic runs the traffic suite on one kernel.
func testTraffic(ctx context.Context, m *manifest.Manifest, k *vm.Kernel, cfg *trafficConfig) *trafficRun {
	run := &trafficRun{Attach: map[string]string{}}
	rep, err := vm.Traffic(ctx, k, vm.TrafficOptions{Binary: cfg.binary, Fixtures: cfg.fixtures, Tests: cfg.tests, Slow: cfg.slow})
	if errors.Is(err, vm.ErrNoModules) {
		run.NotRun = err.Error()
		return run
	}
	for _, e := range errlist.Flatten(err) {
		run.Errors = append(run.Errors, fmt.Sprintf("%+v", e))
	}
	if rep == nil {
		return run
	}
	run.report = rep
	run.Cases, run.Modules, run.TotalMS = rep.Cases, rep.Modules, rep.Total.Milliseconds()
	run.Passed, run.Failed, run.Skipped = rep.Counts()
	for _, c := range rep.Cases {
		if c.Variant != "" && m.Variant(c.Variant) == nil {
			run.Foreign++
		}
		// A node whose cases ran in both modes (the replace test forces
		// each) is listed under both.
		if c.Attach != "" && c.Node != "" {
			modes := strings.Fields(strings.ReplaceAll(run.Attach[c.Node], ",", " "))
			if !slices.Contains(modes, c.Attach) {
				run.Attach[c.Node] = strings.Join(slices.Sorted(slices.Values(append(modes, c.Attach))), ",")
			}
		}
	}
	return run
}

// oldestKernel is the oldest kernel version among the entries of a variant.
func oldestKernel(p *plan.Plan, id string) features.Version {
	var v features.Version
	for _, e := range p.Entries {
		k := e.Resolution.Kernel.Version
		if e.Resolution.Variant.ID == id && (v.IsZero() || !k.AtLeast(v)) {
			v = k
		}
	}
	return v
}

// scenarioApplies is Scenario.Applies, except that a scenario setting
// load-time values cannot run on a static-configuration variant, whose
// values are compiled in.
func scenarioApplies(s *scenario.Scenario, defines map[string]string) bool {
	if _, static := defines[features.StaticConfigDefine]; static && len(s.Values) > 0 {
		return false
	}
	return s.Applies(defines)
}

// recordVMs stores every run's counts, statistics and scenario outcomes in
// the manifest under the guest's release.
func recordVMs(m *manifest.Manifest, runs []*vmRun) {
	for _, r := range runs {
		if r.report != nil {
			r.report.Record(m)
		}
		if r.Traffic != nil && r.Traffic.report != nil {
			r.Traffic.report.Record(m)
		}
	}
}

func writeVMText(w io.Writer, runs []*vmRun, verbose bool) {
	for _, r := range runs {
		passed, failed := 0, 0
		for _, t := range r.Results {
			if t.Status == "pass" {
				passed++
			} else {
				failed++
			}
		}
		fmt.Fprintf(w, "kernel %s (%s, %s): %s, %d scenario runs passed, %d failed, in %s (boot %s, %s)\n",
			r.Series, r.Release, r.Version, plural(len(r.Variants), "variant"), passed, failed,
			ms(r.TotalMS), ms(r.BootMS), plural(r.Machines, "machine"))
		if r.TotalMS > 0 {
			t := r.Time
			fmt.Fprintf(w, "  time: counting loads %s; scenarios %s, of which %s in %d loads", ms(t.VerifyMS), ms(t.ScenarioMS),
				ms(t.ScenarioLoadMS), t.ScenarioLoads)
			if t.ScenarioInstructions > 0 {
				fmt.Fprintf(w, " (%d verified instructions)", t.ScenarioInstructions)
			}
			fmt.Fprintln(w)
		}
		writeTestText(w, r.Results, verbose)
		for _, id := range sortedKeys(r.Skipped) {
			fmt.Fprintf(w, "  not run: variant %s does not fit: %s\n", id, r.Skipped[id])
		}
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  ERROR %s\n", strings.ReplaceAll(e, "\n", "\n    "))
		}
		fmt.Fprintf(w, "  probe: %d capabilities compared with the model's table, %d differ\n", len(r.Probe), len(r.Model))
		for _, c := range sortedKeys(r.Inconclusive) {
			fmt.Fprintf(w, "  probe: %s inconclusive: %s\n", c, r.Inconclusive[c])
		}
		for _, d := range r.Model {
			fmt.Fprintf(w, "  MODEL %s\n", d)
		}
		for _, h := range r.Headroom {
			fmt.Fprintf(w, "  warning: headroom: %s\n", h)
		}
		if r.Traffic != nil {
			writeTrafficText(w, r.Traffic, verbose)
		}
	}
}

// ms prints milliseconds as a duration rounded to a tenth of a second.
func ms(n int64) string {
	return (time.Duration(n) * time.Millisecond).Round(100 * time.Millisecond).String()
}

func writeTrafficText(w io.Writer, t *trafficRun, verbose bool) {
	if t.NotRun != "" {
		fmt.Fprintf(w, "  traffic NOT RUN: %s\n", t.NotRun)
		return
	}
	attach := map[string][]string{}
	for _, node := range sortedKeys(t.Attach) {
		for _, mode := range strings.Split(t.Attach[node], ",") {
			attach[mode] = append(attach[mode], node)
		}
	}
	how := ""
	for _, a := range sortedKeys(attach) {
		how += fmt.Sprintf(", %s on %d nodes", a, len(attach[a]))
	}
	fmt.Fprintf(w, "  traffic: %d cases passed, %d failed, %d skipped in %s%s\n", t.Passed, t.Failed, t.Skipped,
		(time.Duration(t.TotalMS) * time.Millisecond).Round(time.Second), how)
	for _, c := range t.Cases {
		switch {
		case c.Result == "fail":
			fmt.Fprintf(w, "  FAIL traffic %s (%s): %s\n", c.Test, c.Node, c.Reason)
		case c.Result == "skip":
			fmt.Fprintf(w, "  skip traffic %s (%s): %s\n", c.Test, c.Node, c.Reason)
		case verbose:
			fmt.Fprintf(w, "  ok   traffic %s (%s) %s\n", c.Test, c.Node, c.Duration.Round(time.Millisecond))
		}
	}
	if t.Foreign > 0 {
		fmt.Fprintf(w, "  traffic: %d cases ran variants this build does not have (the suite runs the default matrix's nodes); not recorded\n", t.Foreign)
	}
	for _, e := range t.Errors {
		fmt.Fprintf(w, "  ERROR %s\n", strings.ReplaceAll(e, "\n", "\n    "))
	}
}

// runTestVMs is `dpforge test --vm`: run, record into the manifest, report.
func runTestVMs(ctx context.Context, p *plan.Plan, outDir string, m *manifest.Manifest, scenarios []*scenario.Scenario,
	series []string, jobs int, traffic *trafficConfig, asJSON, verbose bool, stdout, stderr io.Writer) int {
	start := time.Now()
	runs, err := testVMs(ctx, p, outDir, m, scenarios, series, jobs, traffic)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	recordVMs(m, runs)
	if err := verify.WriteManifest(filepath.Join(outDir, "manifest.json"), m); err != nil {
		fmt.Fprintf(stderr, "dpforge test: %v\n", err)
		return exitProblems
	}
	failed := false
	for _, r := range runs {
		failed = failed || r.failed
	}
	if asJSON {
		writeJSON(stdout, map[string]any{"kernels": runs})
	} else {
		writeVMText(stdout, runs, verbose)
		fmt.Fprintf(stdout, "%s in %s\n", plural(len(runs), "kernel"), time.Since(start).Round(time.Millisecond))
	}
	if failed {
		return exitProblems
	}
	return exitOK
}

// hostRelease is the running kernel's uname -r.
func hostRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
