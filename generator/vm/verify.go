package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// DefaultTimeout is Options.Timeout's default: boot, all loads and power
// off. A boot takes 2–4 s under TCG; loading is 5–10 times slower than on
// the host.
const DefaultTimeout = 120 * time.Second

// DefaultMemoryMiB is Options.MemoryMiB's default.
const DefaultMemoryMiB = 512

// Object is one BPF ELF object to verify.
type Object struct {
	// Name identifies the object in the Report; unique within a Verify
	// call. ManifestObjects uses the variant id.
	Name string
	// Path is the object file on the host.
	Path string
	// Programs restricts verification to these programs; nil means all.
	Programs []string
	// Scenarios are packet scenario files (bpf/scenario) to run on the
	// object inside the machine after loading it.
	Scenarios []string
}

// Options configure Verify. Zero values mean the documented defaults.
type Options struct {
	// Timeout bounds the whole run of the machine; default DefaultTimeout.
	Timeout time.Duration
	// MemoryMiB is the guest's memory; default DefaultMemoryMiB.
	MemoryMiB int
	// CacheDir caches the agent binary; default DefaultCacheDir().
	CacheDir string
	// Agent is a prebuilt agent binary (CGO_ENABLED=0, linux/amd64) to use
	// instead of building AgentPackage with the go command.
	Agent string
	// QEMU is the emulator; default "qemu-system-x86_64".
	QEMU string
	// WorkDir receives the temporary initramfs; default os.TempDir().
	WorkDir string
	// Console, if set, receives a copy of the raw serial console.
	Console io.Writer
	// Probe asks the agent to probe the guest kernel's capabilities with
	// features/probe (Report.Probe).
	Probe bool
	// CPUs is the guest's virtual CPUs; default 1. Above 1, qemu runs
	// them on host threads of their own (multi-threaded TCG).
	CPUs int
	// SuiteOutput, if set, receives the traffic suite's output, a line
	// at a time, as the guest prints it.
	SuiteOutput io.Writer
}

// Report is what one machine found.
type Report struct {
	// Kernel is the kernel that was booted.
	Kernel *Kernel
	// Release is uname -r inside the machine, the name counts are
	// recorded under (Kernel.Release, unless the package lied).
	Release string
	// KernelVersion is the guest's /proc/version.
	KernelVersion string
	// BTF says whether the guest kernel exposes /sys/kernel/btf/vmlinux.
	BTF bool
	// Warnings are the agent's setup problems (a failed mount, ...).
	Warnings []string
	// Objects, in the order they were given; an object the agent never
	// reported on (it died, the machine timed out) is missing.
	Objects []ObjectReport
	// Probe is what features/probe found in the guest, when asked for.
	Probe *Probe
	// Modules are the requested kernel modules the guest loaded.
	Modules []string
	// traffic is the agent's Traffic record, when one was asked for.
	traffic *wire.Traffic
	// Boot is the time from starting qemu to the agent's first record;
	// Total the time to qemu's exit.
	Boot, Total time.Duration
}

// ObjectReport is the outcome of one object.
type ObjectReport struct {
	Name string
	// Programs in the order requested, or by name.
	Programs []ProgramReport
	// Err is an *ObjectError when the object could not be tried at all.
	Err error
	// Duration is the time the agent spent loading the object (guest
	// clock, under emulation).
	Duration time.Duration
	// Scenarios are the outcomes of Object.Scenarios, in order.
	Scenarios []ScenarioReport
	// ScenarioLoads is how many times the scenarios loaded the object
	// (scenario.Runner shares a load between scenarios that load the
	// same), ScenarioLoadTime how long those loads took (guest clock),
	// and ScenarioInstructions the instructions the verifier processed
	// in them (0 before 5.16, whose kernels do not report it).
	ScenarioLoads        int
	ScenarioLoadTime     time.Duration
	ScenarioInstructions uint64
}

// ScenarioReport is the outcome of one packet scenario on one object.
type ScenarioReport struct {
	// Name is the scenario's name, File the path given in Object.Scenarios.
	Name, File string
	// Passed is true when every expectation held.
	Passed bool
	// Failures are the expectations that did not hold, as the scenario
	// engine words them; Error says why the scenario could not run.
	Failures []string
	Error    string
	// Duration is the scenario's time in the guest (loading included).
	Duration time.Duration
}

// Probe is what features/probe found on the guest kernel.
type Probe struct {
	Capabilities map[string]bool
	Inconclusive map[string]string
}

// ProgramReport is the outcome of one program.
type ProgramReport struct {
	Name string
	// Instructions is the number of instructions the verifier processed;
	// Known is false when the program was rejected or the kernel told
	// nothing.
	Instructions uint32
	Known        bool
	// Source is where the count came from: "info" (bpf_prog_info, 5.16+)
	// or "log" (the verifier's statistics line, older kernels).
	Source string
	// InsnLimit is the verifier's limit on processed instructions as its
	// log states it, 0 when unknown.
	InsnLimit uint32
	// StackDepth is the stack along the program's deepest call chain as
	// the verifier reports it ("stack depth max N", 7.x), or else the sum
	// of its per-function sizes ("stack depth 64+16", an upper bound); the
	// kernel limits a chain to 512 bytes. 0 when unknown.
	StackDepth uint32
	// VerifyTime is the verifier's own measure of its work; 0 when the
	// kernel does not report it.
	VerifyTime time.Duration
	// Loads is 0 when the figures come from a load with the object's own
	// values; else they are those of the largest of this many loads of
	// the program by its packet scenarios, each with its scenario's
	// values (which `dpforge test --vm` counts instead of loading the
	// program once more).
	Loads int
	// Err is a *loader.ProgramError, with the full verifier log, when the
	// kernel rejected the program.
	Err error
}

// Verify boots kernel under qemu (TCG, one vCPU) with an initramfs holding
// the agent and the objects, loads every requested program of every object
// into the guest kernel, and returns what the verifier said.
//
// Rejected programs do not stop the run: each is a *loader.ProgramError in
// its ProgramReport, and all of them, with object and machine failures
// (*ObjectError, *RunError), are also returned joined as the error; flatten
// it with errlist.Flatten, print it with %+v for the logs. The report is
// returned, possibly partial, whenever the machine said anything.
//
// Verify needs qemu-system-x86_64 (see EnsureTools) and, without
// Options.Agent, the go command. It does not need root. Several calls may
// run in parallel, each in its own machine.
func Verify(ctx context.Context, kernel *Kernel, objects []Object, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range objects {
		if o.Name == "" || seen[o.Name] {
			return nil, fmt.Errorf("verifying on %s: object names must be unique and non-empty, got %q twice or empty", kernel.Release, o.Name)
		}
		seen[o.Name] = true
	}
	return boot(ctx, kernel, objects, opts, wire.Request{}, nil)
}

// boot writes the initramfs (the agent, objects, req, extra files) and runs
// the machine. opts has its defaults.
func boot(ctx context.Context, kernel *Kernel, objects []Object, opts Options, req wire.Request, extra []GuestFile) (*Report, error) {
	agentPath := opts.Agent
	if agentPath == "" {
		var err error
		if agentPath, err = agentBinary(ctx, opts.CacheDir); err != nil {
			return nil, err
		}
	}
	agent, err := os.ReadFile(agentPath)
	if err != nil {
		return nil, fmt.Errorf("reading the VM agent: %w", err)
	}
	initrd, err := os.CreateTemp(opts.WorkDir, "dpforge-initramfs-*.cpio.gz")
	if err != nil {
		return nil, err
	}
	defer os.Remove(initrd.Name())
	err = writeInitramfs(initrd, agent, kernel, objects, opts.Probe, req, extra)
	if cerr := initrd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return run(ctx, kernel, initrd.Name(), objects, opts)
}

func (o Options) withDefaults() (Options, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.QEMU == "" {
		o.QEMU = "qemu-system-x86_64"
	}
	if o.CPUs <= 0 {
		o.CPUs = 1
	}
	if o.CacheDir == "" && o.Agent == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return o, err
		}
		o.CacheDir = d
	}
	return o, nil
}

// qemuArgs is the machine: TCG (KVM does not run Debian kernels on this
// kind of host), the legacy pc machine (microvm hung in clock calibration
// under TCG), no default devices, the serial port on stdio as the console,
// and no reboot, so that a guest power-off or panic ends qemu.
//
// The CPU is qemu's "max" without ERMS and FSRM: with them the kernel
// copies memory with "rep movsb", which TCG runs a byte at a time, and the
// verifier copies its states at every checkpoint (6.12 verifying the
// default matrix, boot included: 18.4-19.7 s instead of 23.8-25.3 s).
func qemuArgs(k *Kernel, initrd string, memMiB, cpus int) []string {
	accel := "tcg"
	if cpus > 1 {
		accel = "tcg,thread=multi"
	}
	return []string{
		"-accel", accel, "-cpu", "max,erms=off,fsrm=off", "-m", strconv.Itoa(memMiB), "-smp", strconv.Itoa(cpus), "-M", "pc",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", k.Vmlinux, "-initrd", initrd,
		// panic=-1: reboot (so exit) at once on a panic, such as the
		// agent dying. init_on_alloc=0 init_on_free=0: Debian's kernels
		// zero every allocation, and the verifier allocates a state at
		// every checkpoint; a throwaway guest needs no such hardening
		// (6.12's loads of the default matrix: 6% less time).
		"-append", "console=ttyS0 panic=-1 quiet init_on_alloc=0 init_on_free=0",
	}
}

// powerOffGrace is how long qemu gets to exit after the agent's last
// record.
const powerOffGrace = 10 * time.Second

// consoleTailLines is how much of the console a RunError keeps.
const consoleTailLines = 60

func run(ctx context.Context, k *Kernel, initrd string, objects []Object, opts Options) (*Report, error) {
	if _, err := exec.LookPath(opts.QEMU); err != nil {
		return nil, fmt.Errorf("running kernel %s: %w (run vm.EnsureTools)", k.Release, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := command(ctx, opts.QEMU, qemuArgs(k, initrd, opts.MemoryMiB, opts.CPUs)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// After a kill, do not wait long for the pipes.
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running kernel %s: %w", k.Release, err)
	}

	var console io.Reader = stdout
	if opts.Console != nil {
		console = io.TeeReader(stdout, opts.Console)
	}
	report := &Report{Kernel: k, Release: k.Release}
	var (
		errs     []error
		sawHello bool
		exit     *wire.Exit
		// loading is the object the agent last announced and has not
		// reported on: the one to blame if the machine dies.
		loading string
		tail    = &lineRing{max: consoleTailLines}
	)
	dec := wire.NewDecoder(console)
	dec.Other = func(line string) {
		if name, ok := strings.CutPrefix(line, wire.LoadingPrefix); ok {
			loading = name
		}
		if out, ok := strings.CutPrefix(line, wire.TestPrefix); ok {
			if opts.SuiteOutput != nil {
				fmt.Fprintln(opts.SuiteOutput, out)
			}
			return
		}
		tail.add(line)
	}
	for exit == nil {
		rec, err := dec.Next()
		if err != nil {
			var ce *wire.CorruptError
			if errors.As(err, &ce) {
				errs = append(errs, err)
				continue
			}
			if err != io.EOF {
				errs = append(errs, fmt.Errorf("reading the console: %w", err))
			}
			break
		}
		var (
			h   wire.Hello
			o   wire.Object
			pr  wire.Probe
			tr  wire.Traffic
			dst any
		)
		switch rec.Kind {
		case wire.KindTraffic:
			dst = &tr
		case wire.KindHello:
			dst = &h
		case wire.KindProbe:
			dst = &pr
		case wire.KindObject:
			dst = &o
		case wire.KindExit:
			exit = new(wire.Exit)
			dst = exit
		default:
			continue
		}
		if err := json.Unmarshal(rec.JSON, dst); err != nil {
			errs = append(errs, &wire.CorruptError{Kind: rec.Kind, Err: err})
			continue
		}
		switch rec.Kind {
		case wire.KindHello:
			sawHello = true
			report.Boot = time.Since(start)
			report.KernelVersion, report.BTF, report.Warnings, report.Modules = h.Version, h.BTF, h.Warnings, h.Modules
			if h.Release != "" && h.Release != k.Release {
				report.Warnings = append(report.Warnings, fmt.Sprintf("the guest runs release %q, the package said %q", h.Release, k.Release))
				report.Release = h.Release
			}
		case wire.KindProbe:
			if pr.Error != "" {
				errs = append(errs, fmt.Errorf("probing kernel %s: %s", report.Release, pr.Error))
				break
			}
			report.Probe = &Probe{Capabilities: pr.Capabilities, Inconclusive: pr.Inconclusive}
		case wire.KindTraffic:
			report.traffic = &tr
		case wire.KindObject:
			or := objectReport(o, report.Release, scenarioFiles(objects))
			report.Objects = append(report.Objects, or)
			errs = append(errs, or.errors()...)
			loading = ""
		}
	}
	if exit != nil {
		// The agent powers off after its last record; qemu should be
		// gone in a moment. If the power-off did not work, it is not
		// worth waiting for the timeout.
		t := time.AfterFunc(powerOffGrace, func() { cmd.Process.Kill() })
		defer t.Stop()
	}
	// Drain whatever is left so qemu never blocks on the pipe.
	io.Copy(io.Discard, console)
	waitErr := cmd.Wait()
	report.Total = time.Since(start)

	runErr := func(err error) error {
		return &RunError{Release: k.Release, Err: err, Console: tail.String()}
	}
	switch {
	case exit != nil && exit.Error != "":
		errs = append(errs, runErr(fmt.Errorf("agent: %s", exit.Error)))
	case exit != nil:
		if len(report.Objects) != len(objects) {
			errs = append(errs, runErr(fmt.Errorf("agent reported %d of %d objects", len(report.Objects), len(objects))))
		}
	case ctx.Err() == context.DeadlineExceeded:
		errs = append(errs, runErr(fmt.Errorf("%w after %v%s", ErrTimeout, opts.Timeout, whileLoading(loading))))
	case ctx.Err() != nil:
		errs = append(errs, runErr(ctx.Err()))
	case !sawHello:
		errs = append(errs, runErr(fmt.Errorf("the agent never started (qemu: %v%s)", waitErr, stderrSuffix(stderr.String()))))
	default:
		errs = append(errs, runErr(fmt.Errorf("machine stopped before the agent finished%s (qemu: %v%s)", whileLoading(loading), waitErr, stderrSuffix(stderr.String()))))
	}
	if !sawHello && len(report.Objects) == 0 {
		return nil, errlist.Join(errs...)
	}
	return report, errlist.Join(errs...)
}

// scenarioFiles lists the distinct scenario files of objects, sorted: the
// request's Scenarios, which objects refer to by index.
func scenarioFiles(objects []Object) []string {
	var files []string
	for _, o := range objects {
		files = append(files, o.Scenarios...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

func whileLoading(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" while loading object %q", name)
}

func stderrSuffix(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return ": " + s
}

// objectReport turns the agent's record into the report.
func objectReport(o wire.Object, release string, files []string) ObjectReport {
	or := ObjectReport{Name: o.Name, Duration: time.Duration(o.Millis) * time.Millisecond,
		ScenarioLoads: o.ScenarioLoads, ScenarioLoadTime: time.Duration(o.ScenarioLoadMillis) * time.Millisecond,
		ScenarioInstructions: o.ScenarioInstructions}
	if o.Error != "" {
		or.Err = &ObjectError{Object: o.Name, Release: release, Err: errors.New(o.Error)}
	}
	for _, sc := range o.Scenarios {
		sr := ScenarioReport{Name: sc.Name, Passed: sc.Status == "pass" && sc.Error == "", Failures: sc.Failures,
			Error: sc.Error, Duration: time.Duration(sc.Micros) * time.Microsecond}
		if sc.Index >= 0 && sc.Index < len(files) {
			sr.File = files[sc.Index]
		}
		or.Scenarios = append(or.Scenarios, sr)
	}
	for _, p := range o.Programs {
		pr := ProgramReport{Name: p.Name, Instructions: p.Instructions, Known: p.Instructions > 0, Source: p.Source,
			InsnLimit: p.InsnLimit, StackDepth: p.StackDepth, VerifyTime: time.Duration(p.VerifyMicros) * time.Microsecond,
			Loads: p.Loads}
		if p.Error != "" {
			pr.Known, pr.Instructions = false, 0
			pr.Err = &loader.ProgramError{Variant: o.Name, Program: p.Name, Release: release, Log: p.Log, Err: errors.New(p.Error)}
		}
		or.Programs = append(or.Programs, pr)
	}
	return or
}

func (o ObjectReport) errors() []error {
	var errs []error
	if o.Err != nil {
		errs = append(errs, o.Err)
	}
	for _, p := range o.Programs {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// lineRing keeps the last lines of the console.
type lineRing struct {
	max   int
	lines []string
}

func (r *lineRing) add(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	r.lines = append(r.lines, line)
	if len(r.lines) > r.max {
		r.lines = r.lines[len(r.lines)-r.max:]
	}
}

func (r *lineRing) String() string { return strings.Join(r.lines, "\n") }

// ManifestObjects returns the objects of a manifest's variants (all, or
// those with the given ids), named by variant id, with paths relative to
// outDir, after checking each object's sha256 against the manifest.
func ManifestObjects(outDir string, m *manifest.Manifest, ids ...string) ([]Object, error) {
	want := map[string]bool{}
	for _, id := range ids {
		if m.Variant(id) == nil {
			return nil, fmt.Errorf("variant %q is not in the manifest", id)
		}
		want[id] = true
	}
	var objs []Object
	for _, v := range m.Variants {
		if len(want) > 0 && !want[v.ID] {
			continue
		}
		p := filepath.Join(outDir, filepath.FromSlash(v.Object))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("variant %q: %w", v.ID, err)
		}
		if sum := cache.SHA256Hex(data); sum != v.SHA256 {
			return nil, fmt.Errorf("variant %q: %s has sha256 %s, the manifest says %s (rebuild)", v.ID, v.Object, sum, v.SHA256)
		}
		o := Object{Name: v.ID, Path: p}
		for _, prog := range v.Programs {
			o.Programs = append(o.Programs, prog.Name)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// Record stores what r found in m, under r.Release, for every object named
// by a variant id of m: each program's verified instruction count and
// verifier statistics (Headroom), and the variant's scenario outcome
// (Tested) when scenarios ran. It returns how many counts it stored.
// Writing m back is the caller's (verify.WriteManifest).
func (r *Report) Record(m *manifest.Manifest) int {
	n := 0
	for _, o := range r.Objects {
		v := m.Variant(o.Name)
		if v == nil {
			continue
		}
		if len(o.Scenarios) > 0 {
			var sum manifest.TestSummary
			for _, s := range o.Scenarios {
				if s.Passed {
					sum.Passed++
				} else {
					sum.Failed++
				}
			}
			if v.Tested == nil {
				v.Tested = map[string]manifest.TestSummary{}
			}
			v.Tested[r.Release] = sum
		}
		for _, p := range o.Programs {
			if !p.Known {
				continue
			}
			for j := range v.Programs {
				if v.Programs[j].Name != p.Name {
					continue
				}
				mp := &v.Programs[j]
				if mp.Verified == nil {
					mp.Verified = map[string]uint32{}
				}
				mp.Verified[r.Release] = p.Instructions
				if p.InsnLimit > 0 {
					if mp.Headroom == nil {
						mp.Headroom = map[string]manifest.Headroom{}
					}
					mp.Headroom[r.Release] = manifest.Headroom{Instructions: p.Instructions, InsnLimit: p.InsnLimit,
						StackDepth: p.StackDepth, VerifyMicros: uint64(p.VerifyTime / time.Microsecond), ScenarioLoads: p.Loads}
				}
				n++
			}
		}
	}
	return n
}
