// Command agent is the /init of the virtual machines package vm boots: it
// loads BPF objects into the guest kernel and reports, for every program, how
// many instructions the verifier processed or why it rejected the program.
//
// It reads a wire.Request from the initramfs, writes wire records to the
// console (its standard output, which the kernel opens on /dev/console) and
// powers the machine off. It is built with CGO_ENABLED=0 by package vm; it is
// of no use outside a throwaway VM (it mounts file systems and powers off).
//
// Ordering matters here. cilium/ebpf looks up BPF tokens through
// /proc/self/mountinfo on its first BPF call and caches a failure, so /proc
// must be mounted before any BPF call. Go initialises packages in import
// path order (github.com/cilium/... before github.com/dpforge/...), so an
// init() of ours cannot be made to run before one of cilium/ebpf's; the
// agent therefore imports no cilium/ebpf package that calls BPF from init()
// (rlimit does: it probes memcg accounting by creating a map) and raises
// RLIMIT_MEMLOCK itself, which kernels before 5.11 need. /proc is mounted
// in this package's init(), before main runs any BPF.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/scenario"
	"github.com/dpforge/dpforge/features/probe"
	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// setupWarnings collects what went wrong while preparing the machine; they
// are reported in the Hello record rather than aborting.
var setupWarnings []string

func init() {
	mount("proc", "/proc", "proc")
}

func main() {
	exit := wire.Exit{}
	func() {
		defer func() {
			if r := recover(); r != nil {
				exit.Error = fmt.Sprintf("agent panic: %v\n%s", r, debug.Stack())
			}
		}()
		if err := run(); err != nil {
			exit.Error = err.Error()
		}
	}()
	wire.Encode(os.Stdout, wire.KindExit, exit)
	os.Stdout.Sync()
	unix.Sync()
	// PID 1 must not exit (the kernel would panic, which with panic=-1 and
	// qemu -no-reboot also ends the VM, but noisily).
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stdout, "dpforge-vm: power off: %v\n", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}

func run() error {
	setup()
	// The request is read before the Hello, so that the modules it
	// names are loaded, and their failures reported, in the Hello.
	var req wire.Request
	data, reqErr := os.ReadFile(wire.RequestPath)
	if reqErr != nil {
		reqErr = fmt.Errorf("reading request: %w", reqErr)
	} else if err := jsonUnmarshal(data, &req); err != nil {
		reqErr = fmt.Errorf("decoding request: %w", err)
	}
	hello := wire.Hello{Modules: loadModules(req.Modules)}
	hello.Warnings = setupWarnings
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		hello.Release = unix.ByteSliceToString(uts.Release[:])
	}
	if v, err := os.ReadFile("/proc/version"); err == nil {
		hello.Version = strings.TrimSpace(string(v))
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
		hello.BTF = true
	}
	if cfg := "/boot/config-" + hello.Release; fileExists(cfg) {
		hello.Config = cfg
	}
	if err := wire.Encode(os.Stdout, wire.KindHello, hello); err != nil {
		return err
	}
	if reqErr != nil {
		return reqErr
	}
	if req.Probe {
		if err := wire.Encode(os.Stdout, wire.KindProbe, probeKernel()); err != nil {
			return err
		}
	}
	scenarios := make([]*scenario.Scenario, len(req.Scenarios))
	scenarioErrs := make([]error, len(req.Scenarios))
	for i, path := range req.Scenarios {
		scenarios[i], scenarioErrs[i] = scenario.Load(path)
	}
	for _, o := range req.Objects {
		// A plain line before each object: if the agent dies while
		// loading it, the console says which.
		fmt.Fprintf(os.Stdout, "%s%s\n", wire.LoadingPrefix, o.Name)
		var res wire.Object
		counted := runScenarios(o, scenarios, scenarioErrs, &res)
		loadObject(o, counted, &res)
		if err := wire.Encode(os.Stdout, wire.KindObject, res); err != nil {
			return err
		}
	}
	if req.Traffic != nil {
		if err := wire.Encode(os.Stdout, wire.KindTraffic, runTraffic(req.Traffic)); err != nil {
			return err
		}
	}
	return nil
}

// probeKernel runs dpforge's own probe, the one `dpforge probe` and the
// loader use, on the guest kernel.
func probeKernel() wire.Probe {
	r, err := probe.Run()
	if err != nil {
		return wire.Probe{Error: err.Error()}
	}
	p := wire.Probe{Capabilities: map[string]bool{}, Inconclusive: map[string]string{}}
	for c, ok := range r.Capabilities {
		p.Capabilities[string(c)] = ok
	}
	for c, why := range r.Inconclusive {
		p.Inconclusive[string(c)] = why
	}
	return p
}

// runScenarios runs the object's scenarios with the same engine as
// `dpforge test` on the host, into obj.Scenarios, and records what its
// loads cost in obj. It returns, for each program the scenarios loaded,
// the figures of its largest load (most instructions), each load with
// the statistics log: they stand for the program's counting load (see
// loadObject).
func runScenarios(o wire.ObjectRequest, scenarios []*scenario.Scenario, loadErrs []error, obj *wire.Object) map[string]wire.Program {
	if len(o.Scenarios) == 0 {
		return nil
	}
	counted := map[string]wire.Program{}
	spec, specErr := loader.LoadSpec(o.Path)
	var runner *scenario.Runner
	if specErr == nil {
		shrinkMaps(spec)
		var mine []*scenario.Scenario
		for _, i := range o.Scenarios {
			if i >= 0 && i < len(scenarios) && loadErrs[i] == nil {
				mine = append(mine, scenarios[i])
			}
		}
		runner = scenario.NewRunner(spec, mine)
		runner.LogLevel = ebpf.LogLevelStats
		runner.OnLoad = func(name string, prog *ebpf.Program) {
			prev, p := counted[name], count(name, prog, spec.Programs[name])
			if p.Instructions < prev.Instructions {
				p = prev
			}
			p.Loads = prev.Loads + 1
			counted[name] = p
		}
		defer func() {
			st := runner.Stats()
			obj.ScenarioLoads, obj.ScenarioLoadMillis, obj.ScenarioInstructions = st.Loads, st.LoadTime.Milliseconds(), st.Instructions
			runner.Close()
		}()
	}
	for _, i := range o.Scenarios {
		res := wire.Scenario{Index: i, Status: string(scenario.Fail)}
		switch {
		case i < 0 || i >= len(scenarios):
			res.Error = fmt.Sprintf("no scenario %d in the request", i)
		case loadErrs[i] != nil:
			res.Error = loadErrs[i].Error()
		case specErr != nil:
			res.Name, res.Error = scenarios[i].Name, fmt.Sprintf("parsing object: %v", specErr)
		default:
			start := time.Now()
			r, err := runner.Run(scenarios[i])
			res.Name, res.Micros = scenarios[i].Name, time.Since(start).Microseconds()
			if err != nil {
				res.Error = fmt.Sprintf("%+v", err)
				break
			}
			res.Status = string(r.Status)
			for _, f := range r.Failures() {
				res.Failures = append(res.Failures, f.String())
			}
		}
		obj.Scenarios = append(obj.Scenarios, res)
	}
	return counted
}

// setup mounts the file systems the loader needs and lifts the memlock
// limit. Failures are warnings: a kernel without, say, bpffs can still
// verify programs.
func setup() {
	mount("sysfs", "/sys", "sysfs")
	mount("devtmpfs", "/dev", "devtmpfs")
	mount("bpf", "/sys/fs/bpf", "bpf")
	mount("tmpfs", "/tmp", "tmpfs")
	// Only emergencies on the console: kernel messages would otherwise be
	// interleaved with our records.
	if err := os.WriteFile("/proc/sys/kernel/printk", []byte("1"), 0); err != nil {
		warn("lowering console log level: %v", err)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (64 KiB by
	// default); PID 1 has CAP_SYS_RESOURCE.
	inf := &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, inf); err != nil {
		warn("removing memlock rlimit: %v", err)
	}
	// Loopback up, as on any booted machine: scenarios whose program asks
	// the FIB about 127.0.0.1 expect the answer a host gives.
	if err := linkUp("lo"); err != nil {
		warn("setting lo up: %v", err)
	}
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func mount(source, target, fstype string) {
	if err := os.MkdirAll(target, 0o755); err != nil {
		warn("creating %s: %v", target, err)
		return
	}
	if err := unix.Mount(source, target, fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		warn("mounting %s on %s: %v", fstype, target, err)
	}
}

func warn(format string, args ...any) {
	setupWarnings = append(setupWarnings, fmt.Sprintf(format, args...))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// loadObject loads the requested programs of one object through
// bpf/loader, as a node would, into res. A program in counted, which its
// scenarios loaded already, takes its figures from there (a load with
// the object's own values would verify it once more, the most expensive
// part of a run under emulation); the others are loaded here: first
// together; if that fails each on its own, so that the programs the
// kernel accepts still get a count and each rejected one gets its own
// verifier log.
func loadObject(o wire.ObjectRequest, counted map[string]wire.Program, res *wire.Object) {
	start := time.Now()
	res.Name = o.Name
	defer func() { res.Millis = time.Since(start).Milliseconds() }()

	spec, err := loader.LoadSpec(o.Path)
	if err != nil {
		res.Error = err.Error()
		return
	}
	names := o.Programs
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(spec.Programs))
	}
	for _, n := range names {
		if spec.Programs[n] == nil {
			res.Error = fmt.Sprintf("object has no program %q (it has %s)", n, strings.Join(slices.Sorted(maps.Keys(spec.Programs)), ", "))
			return
		}
	}

	var left []string
	for _, n := range names {
		if _, ok := counted[n]; !ok {
			left = append(left, n)
		}
	}
	defer func() {
		for _, n := range names {
			if p, ok := counted[n]; ok {
				res.Programs = append(res.Programs, p)
			}
		}
		// In the requested order, whoever counted them.
		slices.SortStableFunc(res.Programs, func(a, b wire.Program) int {
			return slices.Index(names, a.Name) - slices.Index(names, b.Name)
		})
	}()
	if len(left) == 0 {
		return
	}
	if counts, err := load(spec, left); err == nil {
		for _, n := range left {
			res.Programs = append(res.Programs, counts[n])
		}
		return
	}
	for _, n := range left {
		counts, err := load(spec, []string{n})
		if err == nil {
			res.Programs = append(res.Programs, counts[n])
			continue
		}
		p := wire.Program{Name: n, Error: err.Error()}
		var pe *loader.ProgramError
		if errors.As(err, &pe) {
			p.Error, p.Log = pe.Err.Error(), pe.Log
		}
		res.Programs = append(res.Programs, p)
	}
}

// load loads the named programs, maps unpinned, and returns each one's
// count. The statistics log is kept for kernels whose program info lacks
// the count.
func load(spec *ebpf.CollectionSpec, names []string) (map[string]wire.Program, error) {
	coll, err := loader.Load(spec, loader.Options{Programs: names, LogLevel: ebpf.LogLevelStats})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	out := make(map[string]wire.Program, len(names))
	for _, n := range names {
		out[n] = count(n, coll.Programs[n], spec.Programs[n])
	}
	return out, nil
}

// count returns the verified instruction count of a loaded program: from
// its info where the kernel reports it (5.16+), else from the statistics
// line of the verifier log; and the stack depth, verification time and
// instruction limit the statistics give (the stack along the deepest call
// chain of spec's functions).
func count(name string, prog *ebpf.Program, spec *ebpf.ProgramSpec) wire.Program {
	calls, _ := loader.CallGraph(spec.Instructions)
	p := wire.ParseStats(prog.VerifierLog, calls)
	p.Name = name
	if info, err := prog.Info(); err == nil {
		if n, ok := info.VerifiedInstructions(); ok {
			p.Instructions, p.Source = n, wire.CountFromInfo
		}
	}
	return p
}

// scenarioMaxEntries caps the hash-type maps a scenario creates.
const scenarioMaxEntries = 1024

// shrinkMaps caps hash, LRU hash and LPM trie maps at scenarioMaxEntries.
// Every scenario creates the object's maps afresh, and the preallocation of
// the large ones (65536-entry LRU maps) is half of a scenario's time under
// emulation. A scenario writes a handful of entries; the verifier's work
// does not depend on these sizes (array maps, whose size bounds indices,
// keep theirs). The load that counts instructions uses the real sizes.
func shrinkMaps(spec *ebpf.CollectionSpec) {
	for _, m := range spec.Maps {
		switch m.Type {
		case ebpf.Hash, ebpf.LRUHash, ebpf.LPMTrie:
			m.MaxEntries = min(m.MaxEntries, scenarioMaxEntries)
		}
	}
}

// jsonUnmarshal decodes strictly: a request the agent does not understand
// is an error, not a silently partial run.
func jsonUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
