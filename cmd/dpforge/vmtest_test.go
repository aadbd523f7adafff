package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/vm"
)

// vmKernelsEnv names the kernel series (or default, oldest, newest) the VM
// suite boots; make test sets it to "oldest newest".
const vmKernelsEnv = "DPFORGE_VM_KERNELS"

// TestVMSuite is `dpforge test --vm` on the default matrix: every variant
// the model says fits each kernel loads there, passes every scenario that
// applies to it, the kernel's probe agrees with the model's table, and the
// manifest records it all under the guest's release.
func TestVMSuite(t *testing.T) {
	series := vmSeries(t, vmKernelsEnv, `"oldest newest" (or series such as 5.10)`, "the scenarios")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := []string{"test", "--out", out, "--scenarios", "../../testdata/scenarios", "-o", "json"}
	for _, s := range series {
		args = append(args, "--vm", s)
	}
	code, got, m, stderr := runVMTest(t, out, args)
	for _, k := range got.Kernels {
		t.Logf("kernel %s (%s): %d variants, %d scenario runs, boot %d ms, total %d ms", k.Series, k.Release, len(k.Variants), len(k.Results), k.BootMS, k.TotalMS)
		for _, e := range k.Errors {
			t.Errorf("kernel %s: %s", k.Release, e)
		}
		for _, d := range k.Model {
			t.Logf("kernel %s: model difference: %s", k.Release, d)
		}
		for _, r := range k.Results {
			if r.Status != "pass" {
				t.Errorf("%s on %s, kernel %s: %s\n%s", r.Scenario, r.Variant, r.Kernel, r.Error, strings.Join(r.Failures, "\n"))
			}
		}
		if len(k.Variants) == 0 || len(k.Results) == 0 {
			t.Errorf("kernel %s: nothing ran (%d variants, %d scenario runs)", k.Release, len(k.Variants), len(k.Results))
		}
		tested := map[string]bool{}
		for _, r := range k.Results {
			tested[r.Variant] = true
		}
		for _, id := range k.Variants {
			v := m.Variant(id)
			if v == nil {
				t.Errorf("manifest: no variant %s", id)
				continue
			}
			if _, static := v.Defines[features.StaticConfigDefine]; !static && !tested[id] {
				t.Errorf("kernel %s: no scenario ran on variant %s", k.Release, id)
			}
			if tested[id] && v.Tested[k.Release].Passed == 0 {
				t.Errorf("manifest: variant %s has no passed scenarios under %s", id, k.Release)
			}
			for _, p := range v.Programs {
				if h, ok := p.Headroom[k.Release]; !ok || h.Instructions == 0 || h.InsnLimit == 0 {
					t.Errorf("manifest: variant %s program %s has no headroom under %s: %+v", id, p.Name, k.Release, h)
				}
			}
		}
	}
	if len(got.Kernels) == 0 {
		t.Errorf("no kernel ran")
	}
	if code != 0 {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// vmResult is `dpforge test --vm -o json`'s output.
type vmResult struct {
	Kernels []vmRun `json:"kernels"`
}

// runVMTest runs dpforge with args and returns its exit code, its JSON
// output, the manifest it left in out and its standard error.
func runVMTest(t *testing.T, out string, args []string) (int, vmResult, *manifest.Manifest, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	var got vmResult
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("exit %d: output is not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	m, err := manifest.Load(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return code, got, m, stderr.String()
}

// vmSeries returns the kernel series env names, after skipping loudly
// when it is empty or when no kernel can be had, and requiring root.
func vmSeries(t *testing.T, env, example, what string) []string {
	t.Helper()
	series := strings.Fields(os.Getenv(env))
	if len(series) == 0 {
		t.Skipf("SKIPPED: set %s=%s to run %s inside Debian kernels under qemu; make test does", env, example, what)
	}
	requireRoot(t)
	if _, err := vm.Series(t.Context(), "", series); err != nil {
		if _, err := os.Stat(filepath.Join(mustCacheDir(t), "apt", "lists")); errors.Is(err, os.ErrNotExist) {
			t.Skipf("VM SUITE NOT RUN (%s): no kernel package index and the apt mirror is unreachable: %v", what, err)
		}
		t.Fatalf("resolving %v: %v", series, err)
	}
	return series
}

func mustCacheDir(t *testing.T) string {
	t.Helper()
	d, err := vm.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// vmTrafficEnv names the kernel series the traffic suite runs in under
// qemu; make test sets it to a kernel before 6.15.
const vmTrafficEnv = "DPFORGE_VM_TRAFFIC"

// TestVMTraffic is `dpforge test --vm SERIES --traffic`: the loader's
// traffic suite inside each kernel, every case passing or skipping with a
// reason that names what the kernel lacks, and the manifest recording the
// cases per variant beside the verification counts.
func TestVMTraffic(t *testing.T) {
	series := vmSeries(t, vmTrafficEnv, "6.1 (or other series)", "the traffic suite")
	out := filepath.Join(t.TempDir(), "out")
	// One scenario: the scenarios have their own suite; this one is
	// about traffic.
	args := []string{"test", "--out", out, "-o", "json", "--traffic", "../../testdata/scenarios/nodeport-snat.yaml"}
	for _, s := range series {
		args = append(args, "--vm", s)
	}
	code, got, m, stderr := runVMTest(t, out, args)
	if len(got.Kernels) != len(series) {
		t.Fatalf("%d kernels ran, want %d", len(got.Kernels), len(series))
	}
	for _, k := range got.Kernels {
		tr := k.Traffic
		if tr == nil {
			t.Errorf("kernel %s: no traffic run (%v)", k.Series, k.Errors)
			continue
		}
		t.Logf("kernel %s (%s): traffic %d passed, %d failed, %d skipped in %d ms, attach %v, modules %v",
			k.Series, k.Release, tr.Passed, tr.Failed, tr.Skipped, tr.TotalMS, tr.Attach, tr.Modules)
		for _, e := range append(k.Errors, tr.Errors...) {
			t.Errorf("kernel %s: %s", k.Release, e)
		}
		recorded := map[string]manifest.TrafficSummary{}
		for _, c := range tr.Cases {
			switch c.Result {
			case "pass":
			case "skip":
				t.Logf("kernel %s: skipped %s: %s", k.Release, c.Test, c.Reason)
				if c.Reason == "" {
					t.Errorf("kernel %s: %s skipped without a reason", k.Release, c.Test)
				}
			default:
				t.Errorf("kernel %s: %s (%s) failed: %s", k.Release, c.Test, c.Node, c.Reason)
			}
			if c.Variant == "" {
				t.Errorf("kernel %s: %s names no variant", k.Release, c.Test)
			}
			s := recorded[c.Variant]
			s.Passed += btoi(c.Result == "pass")
			recorded[c.Variant] = s
		}
		if tr.Passed == 0 {
			t.Errorf("kernel %s: no traffic case passed", k.Release)
		}
		for id, s := range recorded {
			v := m.Variant(id)
			if v == nil {
				t.Errorf("kernel %s: the suite ran variant %s, which the default matrix's build does not have", k.Release, id)
				continue
			}
			if v.Traffic[k.Release].Passed != s.Passed {
				t.Errorf("manifest: variant %s under %s records %+v, the run passed %d", id, k.Release, v.Traffic[k.Release], s.Passed)
			}
		}
	}
	if code != 0 {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
