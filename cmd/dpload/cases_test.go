package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// The suite runs on this machine and inside VM kernels (`dpforge test --vm
// SERIES --traffic`), where the test binary runs without a Go toolchain or
// clang. Three environment variables make it fit there:
//
//	DPLOAD_TEST_FIXTURES=DIR   the builds live in DIR/build and DIR/build2:
//	                           used as they are when they hold a manifest,
//	                           made there (and kept) otherwise
//	DPLOAD_TRAFFIC_RECORD=FILE every traffic case appends one JSON line
//	                           (trafficRecord) to FILE when it ends
//	DPLOAD_TEST_SLOW=N         timeouts and waits are N times longer, loads
//	                           that are there for confidence N times smaller
const (
	envFixtures = "DPLOAD_TEST_FIXTURES"
	envRecord   = "DPLOAD_TRAFFIC_RECORD"
	envSlow     = "DPLOAD_TEST_SLOW"
)

// vmSuite is where the cases this kernel cannot run do run.
const vmSuite = "it runs in the VM traffic suite (`dpforge test --vm SERIES --traffic`)"

// slowFactor is DPLOAD_TEST_SLOW, 1 when unset; set in TestMain.
var slowFactor = 1

func parseSlow(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of 1 or more", envSlow, s)
	}
	return n, nil
}

// slow scales a timeout or a wait by DPLOAD_TEST_SLOW.
func slow(d time.Duration) time.Duration { return d * time.Duration(slowFactor) }

// fewer divides a load that is only there for confidence by
// DPLOAD_TEST_SLOW, keeping at least min.
func fewer(n, min int) int { return max(n/slowFactor, min) }

// trafficRecord is one line of DPLOAD_TRAFFIC_RECORD: a traffic case's
// outcome on this kernel.
type trafficRecord struct {
	Test string `json:"test"`
	// Node is the default matrix's node whose variant the case runs, and
	// Variant that node's variant in the build's manifest.
	Node    string `json:"node"`
	Variant string `json:"variant"`
	// Attach is how dpload attached on this kernel: tcx or tc; empty when
	// the case ended before attaching.
	Attach string `json:"attach,omitempty"`
	Result string `json:"result"` // pass, fail or skip
	// Reason is the skip reason or the first failure, on one line.
	Reason string `json:"reason,omitempty"`
	// Millis is the case's own run time; a routing case's setup, shared
	// by its leaf cases, is not in it.
	Millis int64 `json:"millis"`
}

var recordFile struct {
	sync.Mutex
	path string
}

// appendRecord appends r to DPLOAD_TRAFFIC_RECORD, if set: one write of a
// whole line to a file opened with O_APPEND, under a lock, so parallel
// cases never interleave.
func appendRecord(r trafficRecord) error {
	if recordFile.path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	recordFile.Lock()
	defer recordFile.Unlock()
	f, err := os.OpenFile(recordFile.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", envRecord, err)
	}
	_, err = f.Write(append(line, '\n'))
	return errors.Join(err, f.Close())
}

// caseRecord is what a case's record learns while it runs.
type caseRecord struct {
	mu     sync.Mutex
	reason string
	tp     *topology
}

func (r *caseRecord) note(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason == "" {
		r.reason = strings.Join(strings.Fields(msg), " ")
	}
}

func (r *caseRecord) topology() *topology {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tp
}

// attachMode is how the case's first node was attached.
func (r *caseRecord) attachMode() string {
	if tp := r.topology(); tp != nil && tp.nodes[0] != nil {
		return string(tp.nodes[0].mode)
	}
	return ""
}

// caseT is a test whose first failure or skip message is kept for its
// record; passed as a testing.TB, everything that fails or skips through
// it is seen.
type caseT struct {
	*testing.T
	rec *caseRecord
}

func (c caseT) Error(args ...any) { c.Helper(); c.rec.note(fmt.Sprint(args...)); c.T.Error(args...) }
func (c caseT) Errorf(format string, args ...any) {
	c.Helper()
	c.rec.note(fmt.Sprintf(format, args...))
	c.T.Errorf(format, args...)
}
func (c caseT) Fatal(args ...any) { c.Helper(); c.rec.note(fmt.Sprint(args...)); c.T.Fatal(args...) }
func (c caseT) Fatalf(format string, args ...any) {
	c.Helper()
	c.rec.note(fmt.Sprintf(format, args...))
	c.T.Fatalf(format, args...)
}
func (c caseT) Skip(args ...any) { c.Helper(); c.rec.note(fmt.Sprint(args...)); c.T.Skip(args...) }
func (c caseT) Skipf(format string, args ...any) {
	c.Helper()
	c.rec.note(fmt.Sprintf(format, args...))
	c.T.Skipf(format, args...)
}

// useTopology tells the record which topology the case runs on (setup
// calls it), for the attach mode.
func useTopology(t testing.TB, tp *topology) {
	if c, ok := t.(interface{ record() *caseRecord }); ok {
		r := c.record()
		r.mu.Lock()
		r.tp = tp
		r.mu.Unlock()
	}
}

func (c caseT) record() *caseRecord { return c.rec }

func result(t *testing.T) string {
	switch {
	case t.Failed():
		return "fail"
	case t.Skipped():
		return "skip"
	}
	return "pass"
}

// trafficCase starts a leaf traffic case: t's outcome is recorded when it
// ends, against the default matrix's node whose variant it runs.
func trafficCase(t *testing.T, nodeName string) caseT {
	t.Helper()
	c := caseT{T: t, rec: &caseRecord{}}
	start := time.Now()
	variant := ""
	t.Cleanup(func() {
		r := trafficRecord{Test: t.Name(), Node: nodeName, Variant: variant, Attach: c.rec.attachMode(),
			Result: result(t), Millis: time.Since(start).Milliseconds()}
		if r.Result != "pass" {
			r.Reason = c.rec.reason
			if r.Reason == "" {
				r.Reason = r.Result + " (see the test log)"
			}
		}
		if err := appendRecord(r); err != nil {
			t.Errorf("recording the case: %v", err)
		}
	})
	requireRoot(c)
	variant = nodeVariant(c, nodeName)
	return c
}

// caseGroup is a routing case whose leaf cases share one topology: the
// leaves are recorded as they end; those that never ran (the group's setup
// skipped or failed) are recorded with the group's outcome.
type caseGroup struct {
	caseT
	node   string
	leaves []string
	ran    map[string]bool
}

func newCaseGroup(t *testing.T, nodeName string, leaves ...string) *caseGroup {
	t.Helper()
	g := &caseGroup{caseT: caseT{T: t, rec: &caseRecord{}}, node: nodeName, leaves: leaves, ran: map[string]bool{}}
	start := time.Now()
	t.Cleanup(func() {
		for _, leaf := range g.leaves {
			if g.ran[leaf] {
				continue
			}
			reason := g.rec.reason
			if reason == "" {
				reason = "the case's setup ended before it ran"
			}
			res := result(t)
			if res == "pass" {
				res = "fail"
			}
			err := appendRecord(trafficRecord{Test: t.Name() + "/" + leaf, Node: nodeName, Variant: nodeVariantOrEmpty(nodeName),
				Attach: g.rec.attachMode(), Result: res, Reason: reason, Millis: time.Since(start).Milliseconds()})
			if err != nil {
				t.Errorf("recording the case: %v", err)
			}
		}
	})
	return g
}

// run runs a declared leaf as a subtest, on the group's topology.
func (g *caseGroup) run(name string, body func(t caseT)) {
	g.Helper()
	if !slices.Contains(g.leaves, name) {
		g.Fatalf("leaf case %q is not declared", name)
	}
	g.ran[name] = true
	g.T.Run(name, func(t *testing.T) {
		c := trafficCase(t, g.node)
		useTopology(c, g.rec.topology())
		body(c)
	})
}

var manifests struct {
	sync.Mutex
	byDir map[string]*manifest.Manifest
}

// nodeVariant is the variant the build's manifest gives the node.
func nodeVariant(t testing.TB, nodeName string) string {
	t.Helper()
	build := buildDir(t)
	manifests.Lock()
	defer manifests.Unlock()
	m := manifests.byDir[build]
	if m == nil {
		var err error
		if m, err = manifest.Load(filepath.Join(build, "manifest.json")); err != nil {
			t.Fatal(err)
		}
		if manifests.byDir == nil {
			manifests.byDir = map[string]*manifest.Manifest{}
		}
		manifests.byDir[build] = m
	}
	for _, n := range m.Nodes {
		if n.Name == nodeName {
			return n.Variant
		}
	}
	t.Fatalf("node %q is not in the build's manifest", nodeName)
	return ""
}

// nodeVariantOrEmpty is nodeVariant for a record written after the build
// may have failed.
func nodeVariantOrEmpty(nodeName string) string {
	if fixture.dir == "" || fixture.err != nil {
		return ""
	}
	manifests.Lock()
	m := manifests.byDir[fixture.dir]
	manifests.Unlock()
	if m != nil {
		for _, n := range m.Nodes {
			if n.Name == nodeName {
				return n.Variant
			}
		}
	}
	return ""
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelRefusals are how dpload and the kernel say that this kernel cannot
// run a variant or an attach mode: the variant's requirements are missing,
// there is no TCX, or the verifier does not know a helper.
var kernelRefusals = []string{
	"cannot run on kernel",
	"runs on kernel",
	"has no TCX",
	"unknown func ",
	"invalid func ",
	"not supported (requires",
}

func kernelRefuses(err error) bool {
	if err == nil {
		return false
	}
	for _, s := range kernelRefusals {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// skipIfKernelRefuses skips the case when err is this kernel refusing the
// variant or attach mode, and returns otherwise: any other error is the
// caller's to fail on.
func skipIfKernelRefuses(t testing.TB, err error) {
	t.Helper()
	if kernelRefuses(err) {
		t.Skipf("SKIPPED (kernel %s cannot run this): %v", kernelRelease(), err)
	}
}

// requireKernel skips when this kernel lacks a device or qdisc the case
// needs: it tries cmds (ip or tc commands) in a scratch namespace. A
// failure that is not the kernel lacking the feature fails the case.
func requireKernel(t testing.TB, feature, config string, cmds ...[]string) {
	t.Helper()
	ns := newNSThread(t, "probe")
	for _, c := range cmds {
		err := ns.Do(func() error {
			out, err := execIn(c)
			if err != nil {
				return fmt.Errorf("`%s`: %v: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
			}
			return nil
		})
		if err == nil {
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "Unknown device type") || strings.Contains(msg, "qdisc kind is unknown") ||
			strings.Contains(msg, "Unknown qdisc") || strings.Contains(msg, "not supported") {
			t.Skipf("SKIPPED (kernel %s has no %s, %s: %s): %s, whose kernels load it as a module",
				kernelRelease(), feature, config, msg, vmSuite)
		}
		t.Fatalf("probing the kernel for %s: %s", feature, msg)
	}
}

func execIn(cmd []string) ([]byte, error) { return exec.Command(cmd[0], cmd[1:]...).CombinedOutput() }

// TestKernelRefusal: only this kernel refusing a variant or attach mode
// makes a case skip; other errors fail it.
func TestKernelRefusal(t *testing.T) {
	for msg, want := range map[string]bool{
		`node1: dpload attach: exit 1: dpload attach: --attach tcx: kernel 6.1.0 has no TCX (needs 6.6); use --attach tc`:         true,
		`dpload attach: node "native-full": variant fd6d3ac63305 cannot run on kernel 5.10.0: big-tcp (needs 6.3)`:                true,
		`dpload attach: no tunnel variant of the build runs on kernel 4.9.0: ...`:                                                 true,
		`loading cil_from_netdev: program cil_from_netdev: load program: invalid argument: unknown func bpf_redirect_peer#155`:    true,
		`node1: dpload attach: exit 1: dpload attach: attaching cil_to_netdev: device "eth0": no such device`:                     false,
		`dpload state apply: endpoints[0]: veth "lxc1": link not found`:                                                           false,
		`loading cil_from_container: program cil_from_container: load program: permission denied: R1 invalid mem access 'scalar'`: false,
	} {
		if got := kernelRefuses(errors.New(msg)); got != want {
			t.Errorf("kernelRefuses(%q) = %v, want %v", msg, got, want)
		}
	}
	if kernelRefuses(nil) {
		t.Error("kernelRefuses(nil) = true")
	}
}

func TestParseSlow(t *testing.T) {
	for in, want := range map[string]int{"": 1, "1": 1, "4": 4} {
		if got, err := parseSlow(in); err != nil || got != want {
			t.Errorf("parseSlow(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-2", "x", "1.5"} {
		if _, err := parseSlow(in); err == nil {
			t.Errorf("parseSlow(%q): no error", in)
		}
	}
}

// TestTrafficRecordAppend: parallel cases append whole lines.
func TestTrafficRecordAppend(t *testing.T) {
	file := filepath.Join(t.TempDir(), "record.jsonl")
	recordFile.Lock()
	old := recordFile.path
	recordFile.path = file
	recordFile.Unlock()
	t.Cleanup(func() { recordFile.Lock(); recordFile.path = old; recordFile.Unlock() })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := trafficRecord{Test: fmt.Sprintf("TestX/case-%d", i), Node: "n", Variant: "v", Result: "pass", Reason: strings.Repeat("r", 3000)}
			if err := appendRecord(r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r trafficRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %.60q...: %v", line, err)
		}
		seen[r.Test] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct records, want 50", len(seen))
	}
}
