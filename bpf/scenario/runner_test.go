package scenario_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/scenario"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// outcome is a Result or the text of the error in its place.
type outcome struct {
	Result *scenario.Result
	Err    string
}

func runAll(scenarios []*scenario.Scenario, run func(*scenario.Scenario) (*scenario.Result, error)) map[string]outcome {
	out := map[string]outcome{}
	for _, s := range scenarios {
		res, err := run(s)
		o := outcome{Result: res}
		if err != nil {
			o.Err = fmt.Sprintf("%+v", err)
		}
		out[s.Name] = o
	}
	return out
}

// decided is what a scenario's expectations decide: its status, each run's
// verdict and failures, or its error.
func decided(o outcome) []string {
	if o.Result == nil {
		return []string{o.Err}
	}
	out := []string{string(o.Result.Status)}
	for _, r := range o.Result.Runs {
		out = append(out, fmt.Sprintf("%s %s %s", r.Step, r.Program, r.Verdict))
		for _, f := range r.Failures {
			out = append(out, f.String())
		}
	}
	return out
}

// TestRunnerMatchesRun runs every scenario of testdata/scenarios on every
// variant of the default matrix three ways: each with Run (a fresh load),
// and with one Runner per variant: in file order, each program loaded apart
// per set of the values it reads (every object of the default matrix
// allows it), and in reverse order loading whole sets of programs per set
// of values, given only every other scenario (so that the others load
// their own programs). A map the Runner failed to put back after a
// scenario, a value a program reads that was not set in its load, or a
// program loaded beside those a scenario runs that changed its outcome,
// shows as a different Result.
func TestRunnerMatchesRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: loading and running BPF programs needs root (CAP_BPF, CAP_NET_ADMIN); run go test as root")
	}
	scenarios, err := scenario.LoadDir(filepath.Join("..", "..", "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	m, diags := config.Parse(config.DefaultMatrixName, config.DefaultMatrix, nil)
	if m == nil || diags.HasErrors() {
		t.Fatalf("default matrix: %v", diags)
	}
	out := t.TempDir()
	res, err := generator.Execute(context.Background(), plan.Make(m, ""), generator.Options{OutDir: out, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("building the default matrix: %+v", err)
	}
	ignore := cmp.Options{
		cmpopts.IgnoreFields(scenario.Result{}, "Duration"),
		cmpopts.IgnoreFields(scenario.RunResult{}, "Duration"),
		cmpopts.EquateComparable(netip.Addr{}),
	}
	total, reused, nondet := 0, 0, 0
	for _, v := range res.Manifest.Variants {
		var applied []*scenario.Scenario
		for _, s := range scenarios {
			if _, static := v.Defines[features.StaticConfigDefine]; static && len(s.Values) > 0 {
				continue // as dpforge test: such an object takes no values
			}
			if s.Applies(v.Defines) {
				applied = append(applied, s)
			}
		}
		if len(applied) == 0 {
			continue
		}
		spec, err := loader.VariantSpec(out, &v)
		if err != nil {
			t.Fatal(err)
		}
		fresh := runAll(applied, func(s *scenario.Scenario) (*scenario.Result, error) { return scenario.Run(spec, s) })
		for _, order := range []string{"file", "reverse"} {
			ss, given := slices.Clone(applied), applied
			if order == "reverse" {
				slices.Reverse(ss)
				given = nil
				for i := 0; i < len(applied); i += 2 {
					given = append(given, applied[i])
				}
			}
			r := scenario.NewRunner(spec, given)
			if !scenario.LoadsApart(r) {
				t.Errorf("variant %s: the Runner does not load programs apart", v.ID)
			}
			if order == "reverse" {
				scenario.LoadWhole(r)
			}
			// Every loaded program reaches OnLoad, with the statistics
			// the log level asks for.
			seen := 0
			r.LogLevel = ebpf.LogLevelStats
			r.OnLoad = func(name string, prog *ebpf.Program) {
				seen++
				if !strings.Contains(prog.VerifierLog, "processed ") {
					t.Errorf("variant %s, program %s: OnLoad saw no statistics in the verifier log %q", v.ID, name, prog.VerifierLog)
				}
			}
			got := runAll(ss, r.Run)
			loads := r.Stats().Loads
			switch {
			case order == "file" && seen != loads:
				t.Errorf("variant %s: %d loads of one program each, OnLoad called %d times", v.ID, loads, seen)
			case seen < loads:
				t.Errorf("variant %s: %d loads, OnLoad called %d times", v.ID, loads, seen)
			}
			if err := r.Close(); err != nil {
				t.Errorf("variant %s: closing the runner: %v", v.ID, err)
			}
			for _, s := range applied {
				diff := cmp.Diff(fresh[s.Name], got[s.Name], ignore)
				if diff == "" {
					continue
				}
				// A program may draw random numbers (a NAT source port):
				// if a second fresh load differs from the first as well,
				// only what the expectations decide must agree.
				again := runAll([]*scenario.Scenario{s}, func(s *scenario.Scenario) (*scenario.Result, error) { return scenario.Run(spec, s) })
				if cmp.Diff(fresh[s.Name], again[s.Name], ignore) != "" {
					diff = cmp.Diff(decided(fresh[s.Name]), decided(got[s.Name]))
					nondet++
				}
				if diff != "" {
					t.Errorf("variant %s, scenario %s, %s order: Runner differs from Run (-run +runner):\n%s", v.ID, s.Name, order, diff)
				}
			}
			total += len(ss)
			reused += len(ss) - loads
			t.Logf("variant %s, %s order: %d scenarios, %d loads", v.ID, order, len(ss), loads)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d runs, %d of them on a reused collection; %d differed between two fresh loads too", total, reused, nondet)
	if total == 0 {
		t.Fatal("no scenario applies to any variant of the default matrix")
	}
	if reused == 0 {
		t.Errorf("the Runner loaded once per scenario (%d): nothing was reused", total)
	}
}
