package vm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// TrafficPackage is the package whose tests are the loader's traffic
// suite: two nodes, pods and an outside client in network namespaces,
// real packets through the attached datapath.
const TrafficPackage = "github.com/dpforge/dpforge/cmd/dpload"

// TrafficTests are the suite's tests that send traffic, run in the guest
// by default: pod to pod on one node and across nodes, services (ClusterIP,
// NodePort with SNAT, DSR and hybrid, masquerading), what a pod's veth
// sees, bandwidth pacing, and a replace under load.
var TrafficTests = []string{
	"TestTrafficPodToPod", "TestTrafficServices", "TestSeed000Observation",
	"TestTrafficBandwidth", "TestReplaceUnderLoad",
}

// runExpr is the -test.run expression that selects exactly tests.
func runExpr(tests []string) string {
	return "^(" + strings.Join(tests, "|") + ")$"
}

// The suite's contract (see cmd/dpload's TestMain): where its prebuilt
// fixture builds are, where it records its cases, how much slower than
// the host the machine is.
const (
	envFixtures = "DPLOAD_TEST_FIXTURES"
	envRecord   = "DPLOAD_TRAFFIC_RECORD"
	envSlow     = "DPLOAD_TEST_SLOW"
)

// Paths of the suite inside the guest.
const (
	guestSuite    = "dpforge/traffic/dpload.test"
	guestFixtures = "dpforge/traffic/fixtures"
	guestRecord   = "/tmp/dpforge-traffic.jsonl"
)

// DefaultTrafficMemoryMiB is the guest's memory for the traffic suite: two
// nodes' maps, the initramfs with two builds, the suite.
const DefaultTrafficMemoryMiB = 2048

// TrafficOptions configure Traffic.
type TrafficOptions struct {
	// Options are the machine's; Timeout bounds the whole run (default
	// DefaultTrafficTimeout), MemoryMiB defaults to
	// DefaultTrafficMemoryMiB.
	Options
	// Binary is the suite's test binary (TrafficBinary), Fixtures the
	// directory of its fixture builds (TrafficFixtures).
	Binary, Fixtures string
	// Tests are the tests to run; default TrafficTests.
	Tests []string
	// Slow multiplies the suite's timeouts and divides its load sizes;
	// default 4 (emulation).
	Slow int
}

// DefaultTrafficTimeout is TrafficOptions.Timeout's default.
const DefaultTrafficTimeout = 30 * time.Minute

// TrafficCase is one case of the suite on one kernel.
type TrafficCase struct {
	// Test is the Go test's name, e.g.
	// "TestTrafficServices/tunnel-geneve/nodeport-remote-tcp-snat".
	Test string `json:"test"`
	// Node is the default matrix's node whose variant ran; Variant is
	// its id.
	Node    string `json:"node"`
	Variant string `json:"variant"`
	// Attach is how the loader attached there: "tcx" or "tc".
	Attach string `json:"attach,omitempty"`
	// Result is "pass", "fail" or "skip"; Reason says why it skipped or
	// how it failed.
	Result   string        `json:"result"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// TrafficReport is what the suite did on one kernel.
type TrafficReport struct {
	Kernel        *Kernel
	Release       string
	KernelVersion string
	// Modules are the kernel modules the guest loaded; Warnings the
	// agent's setup problems (a module that did not load, ...).
	Modules  []string
	Warnings []string
	Cases    []TrafficCase
	// ExitCode is the suite's exit status (0: every test passed or was
	// skipped; -1: it was killed or did not run); Tail the end of its
	// output.
	ExitCode int
	Tail     []string
	// Boot is the time to the agent's first record, Total to qemu's exit.
	Boot, Total time.Duration
}

// Counts returns how many cases passed, failed and were skipped.
func (r *TrafficReport) Counts() (passed, failed, skipped int) {
	for _, c := range r.Cases {
		switch c.Result {
		case "pass":
			passed++
		case "skip":
			skipped++
		default:
			failed++
		}
	}
	return
}

// Traffic boots kernel under qemu with the traffic suite, the kernel
// modules its topology needs (TrafficModules), this machine's ip and tc,
// and the suite's fixture builds, runs the suite inside (each test builds
// its own namespaces in the guest), and returns its cases.
//
// The error joins machine failures (*RunError), a suite that did not
// finish, and a *TrafficError when a case failed or the suite exited
// non-zero. The report is returned whenever the machine said anything.
func Traffic(ctx context.Context, kernel *Kernel, opts TrafficOptions) (*TrafficReport, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTrafficTimeout
	}
	if opts.MemoryMiB <= 0 {
		opts.MemoryMiB = DefaultTrafficMemoryMiB
	}
	if opts.Slow <= 0 {
		opts.Slow = 4
	}
	if len(opts.Tests) == 0 {
		opts.Tests = TrafficTests
	}
	if opts.Binary == "" || opts.Fixtures == "" {
		return nil, errors.New("running the traffic suite: the suite's binary and fixtures are required (TrafficBinary, TrafficFixtures)")
	}
	base, err := opts.Options.withDefaults()
	if err != nil {
		return nil, err
	}
	mods, err := kernel.ModuleFiles(TrafficModules)
	if err != nil {
		return nil, fmt.Errorf("running the traffic suite on %s: %w", kernel.Release, err)
	}
	tools, err := HostTools("ip", "tc")
	if err != nil {
		return nil, fmt.Errorf("running the traffic suite: %w", err)
	}
	fixtures, err := treeFiles(opts.Fixtures, guestFixtures)
	if err != nil {
		return nil, fmt.Errorf("running the traffic suite: %w", err)
	}
	extra := append(append(append(mods, tools...), fixtures...), GuestFile{Path: guestSuite, Mode: 0o755, Host: opts.Binary})
	req := wire.Request{Traffic: &wire.TrafficRequest{
		Binary: "/" + guestSuite,
		Args: []string{"-test.v", "-test.count=1", "-test.run", runExpr(opts.Tests),
			// The suite's own timeout ends it with a stack dump before
			// the machine's does.
			"-test.timeout", (opts.Timeout - 2*time.Minute).String()},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "TMPDIR=/tmp",
			envFixtures + "=/" + guestFixtures, envRecord + "=" + guestRecord, envSlow + "=" + strconv.Itoa(opts.Slow)},
		Record:     guestRecord,
		TimeoutSec: int((opts.Timeout - time.Minute).Seconds()),
	}}
	for _, m := range mods {
		req.Modules = append(req.Modules, "/"+m.Path)
	}
	return trafficReport(boot(ctx, kernel, nil, base, req, extra))
}

// trafficReport turns a machine's report on a traffic request into a
// TrafficReport, adding to err what the suite's record says went wrong.
func trafficReport(rep *Report, err error) (*TrafficReport, error) {
	if rep == nil {
		return nil, err
	}
	errs := errlist.Flatten(err)
	tr := &TrafficReport{Kernel: rep.Kernel, Release: rep.Release, KernelVersion: rep.KernelVersion, Modules: rep.Modules,
		Warnings: rep.Warnings, ExitCode: -1, Boot: rep.Boot, Total: rep.Total}
	if t := rep.traffic; t != nil {
		tr.ExitCode, tr.Tail = t.ExitCode, t.Tail
		for _, c := range t.Cases {
			tr.Cases = append(tr.Cases, TrafficCase{Test: c.Test, Node: c.Node, Variant: c.Variant, Attach: c.Attach,
				Result: c.Result, Reason: c.Reason, Duration: time.Duration(c.Millis) * time.Millisecond})
		}
		if t.Error != "" {
			errs = append(errs, &RunError{Release: tr.Release, Err: fmt.Errorf("traffic suite: %s", t.Error), Console: strings.Join(t.Tail, "\n")})
		}
	} else if err == nil {
		errs = append(errs, &RunError{Release: tr.Release, Err: errors.New("the agent sent no traffic record")})
	}
	_, failed, _ := tr.Counts()
	if failed > 0 || (rep.traffic != nil && tr.ExitCode != 0) {
		errs = append(errs, &TrafficError{Release: tr.Release, Failed: failed, ExitCode: tr.ExitCode, Tail: tr.Tail})
	}
	return tr, errlist.Join(errs...)
}

// TrafficError is a traffic suite that ran and failed.
type TrafficError struct {
	Release  string
	Failed   int
	ExitCode int
	// Tail is the end of the suite's output.
	Tail []string
}

func (e *TrafficError) Error() string {
	return fmt.Sprintf("traffic suite on %s: %d cases failed, exit status %d", e.Release, e.Failed, e.ExitCode)
}

// Format prints the suite's output tail with %+v.
func (e *TrafficError) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, e.Error())
	if verb == 'v' && f.Flag('+') && len(e.Tail) > 0 {
		fmt.Fprintf(f, "\nthe suite's last output:\n%s", strings.Join(e.Tail, "\n"))
	}
}

// treeFiles lists the regular files under dir as guest files under guest,
// keeping their permission bits.
func treeFiles(dir, guest string) ([]GuestFile, error) {
	var files []GuestFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil // lock files are regular; sockets and the like are not wanted
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, GuestFile{Path: path.Join(guest, filepath.ToSlash(rel)), Mode: info.Mode().Perm(), Host: p})
		return nil
	})
	return files, err
}

// Record stores the cases in m under r.Release, per variant: how many
// passed, failed and were skipped, and how the loader attached. It returns
// how many cases named a variant of m.
func (r *TrafficReport) Record(m *manifest.Manifest) int {
	n := 0
	for _, c := range r.Cases {
		v := m.Variant(c.Variant)
		if v == nil {
			continue
		}
		if v.Traffic == nil {
			v.Traffic = map[string]manifest.TrafficSummary{}
		}
		s := v.Traffic[r.Release]
		switch c.Result {
		case "pass":
			s.Passed++
		case "skip":
			s.Skipped++
		default:
			s.Failed++
		}
		s.Attach = addMode(s.Attach, c.Attach)
		v.Traffic[r.Release] = s
		n++
	}
	return n
}

// addMode adds mode to the comma-separated, sorted set of modes.
func addMode(modes, mode string) string {
	if mode == "" {
		return modes
	}
	set := strings.Split(modes, ",")
	if modes == "" {
		set = nil
	}
	if !slices.Contains(set, mode) {
		set = append(set, mode)
	}
	slices.Sort(set)
	return strings.Join(set, ",")
}

// TrafficBinary builds the traffic suite's test binary (go test -c of
// TrafficPackage, static) and returns its path in cacheDir/traffic, named
// by its content: the same sources give the same binary, whose fixtures
// can then be reused.
func TrafficBinary(ctx context.Context, cacheDir string) (string, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return "", err
		}
		cacheDir = d
	}
	dir, err := packageDir(ctx, TrafficPackage)
	if err != nil {
		return "", err
	}
	root := filepath.Join(cacheDir, "traffic")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, ".tmp-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "dpload.test")
	args := append(append([]string{"test", "-c"}, agentBuildFlags...), "-o", out, TrafficPackage)
	if _, err := goOutput(ctx, dir, args...); err != nil {
		return "", fmt.Errorf("building the traffic suite: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	entry := filepath.Join(root, cache.SHA256Hex(data)[:16])
	bin := filepath.Join(entry, "dpload.test")
	if _, err := os.Stat(bin); err != nil {
		if err := atomicfile.WriteFile(bin, data, 0o755); err != nil {
			return "", err
		}
	}
	now := time.Now()
	os.Chtimes(entry, now, now)
	pruneTraffic(root, entry, now)
	return bin, nil
}

// trafficKeep is how long an unused suite and its fixtures stay cached:
// every change to the loader's sources makes a new one.
const trafficKeep = 24 * time.Hour

// pruneTraffic removes the suites under root not used for trafficKeep,
// except keep, each only while no one holds its fixtures' lock.
func pruneTraffic(root, keep string, now time.Time) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		info, err := e.Info()
		if err != nil || !e.IsDir() || dir == keep || strings.HasPrefix(e.Name(), ".") || now.Sub(info.ModTime()) < trafficKeep {
			continue
		}
		// A done context: Lock tries once and does not wait.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		unlock, err := cache.Lock(ctx, filepath.Join(dir, "fixtures.lock"))
		if err != nil {
			continue
		}
		os.RemoveAll(dir)
		unlock()
	}
}

// TrafficFixtures makes the suite's fixture builds beside binary, once per
// binary: it runs the suite's TestFixtures on this machine (clang builds
// the default matrix and a second build of it) and returns the directory.
func TrafficFixtures(ctx context.Context, binary string) (string, error) {
	dir := filepath.Join(filepath.Dir(binary), "fixtures")
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	unlock, err := cache.Lock(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	// A run that died half-way left a partial directory.
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := command(ctx, binary, "-test.run", "^TestFixtures$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envFixtures+"="+dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the traffic suite's fixtures: %w: %s", err, tailOf(string(out), 20))
	}
	if err := atomicfile.WriteFile(done, nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// packageDir finds the directory to run the go command in for pkg: the
// working directory (this module, or one that requires it), else where
// this file was compiled.
func packageDir(ctx context.Context, pkg string) (string, error) {
	var errs []error
	for _, dir := range goDirs() {
		if _, err := goOutput(ctx, dir, "list", "-f", "{{.Dir}}", pkg); err != nil {
			errs = append(errs, err)
			continue
		}
		return dir, nil
	}
	return "", fmt.Errorf("finding the source of %s (run from the dpforge module): %w", pkg, errors.Join(errs...))
}
