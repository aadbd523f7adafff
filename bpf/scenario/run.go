package scenario

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/packet"
)

// outputRoom is how much a program may grow a packet (encapsulation,
// options) beyond its input: the kernel fails the run with ENOSPC when the
// output does not fit DataOut.
const outputRoom = 256 + 256

// LoadError is returned by Run and Benchmark when the kernel does not load
// the object. Its message includes the full verifier log, if any.
type LoadError struct {
	Scenario string
	Err      error
}

func (e *LoadError) Error() string {
	msg := fmt.Sprintf("loading object for scenario %q: %v", e.Scenario, e.Err)
	var le *loader.LoadError
	if errors.As(e.Err, &le) {
		for _, pe := range le.Programs {
			msg += fmt.Sprintf("\nverifier log of %s:\n%s", pe.Program, strings.Join(pe.Log, "\n"))
		}
	}
	return msg
}

func (e *LoadError) Unwrap() error { return e.Err }

// Run runs a scenario against an object and checks its expectations.
//
// It checks the scenario against spec (see [Check]), then loads a copy of
// spec with map pinning cleared (nothing under /sys/fs/bpf is touched), only
// the programs the scenario runs (and those a program array refers to), and
// the scenario's values set. It writes the scenario's map entries, runs the
// packet with BPF_PROG_TEST_RUN, and compares the verdict, the output packet,
// the skb context and the maps with the expectations; then does the same for
// each step against the same loaded object.
//
// Expectations that do not hold make a failed Result, not an error. The
// error is an *Error for a malformed scenario (including map entries the
// kernel rejects), a *LoadError for an object the kernel does not load, and
// an operational error when a run fails in the kernel.
func Run(spec *ebpf.CollectionSpec, s *Scenario) (*Result, error) {
	start := time.Now()
	p, err := compile(spec, s)
	if err != nil {
		return nil, err
	}
	coll, err := p.load(spec, s, p.programs, 0)
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return p.run(coll, s, start)
}

// run writes the maps and runs the packets of every run of the plan on a
// loaded collection, and checks the expectations.
func (p *plan) run(coll *ebpf.Collection, s *Scenario, start time.Time) (*Result, error) {
	res := &Result{Name: s.Name, File: s.File, Status: Pass}
	for _, r := range p.runs {
		if err := p.write(coll, s, r.writes); err != nil {
			return nil, err
		}
		rr, err := p.execute(coll, r)
		if err != nil {
			return nil, err
		}
		if len(rr.Failures) > 0 {
			res.Status = Fail
		}
		res.Runs = append(res.Runs, *rr)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// Benchmark loads the object and writes the maps as Run does, then runs the
// scenario's first packet repeat times. It returns the last run's verdict
// and the mean time per run as the kernel measured it.
//
// Each run is its own BPF_PROG_TEST_RUN with a fresh copy of the packet:
// with the kernel's own repeat, the program would see its previous output
// (a NAT rewrite or a TTL decrement changes the path from the second run
// on). Map state carries over, so after the first run a flow takes its
// established path (conntrack hits), as most packets of a real flow do. The
// kernel's clock is read around each single run, which adds a constant; a
// program that only returns TC_ACT_OK, measured the same way, gives that
// floor. The skb context is not passed: Program.Benchmark takes none.
func Benchmark(spec *ebpf.CollectionSpec, s *Scenario, repeat int) (Verdict, time.Duration, error) {
	p, err := compile(spec, s)
	if err != nil {
		return 0, 0, err
	}
	coll, err := p.load(spec, s, p.programs, 0)
	if err != nil {
		return 0, 0, err
	}
	defer coll.Close()
	r := p.runs[0]
	if err := p.write(coll, s, r.writes); err != nil {
		return 0, 0, err
	}
	return BenchmarkProgram(coll.Programs[r.program], r.data, repeat)
}

// BenchmarkProgram runs one packet through a loaded program repeat times,
// each run on a fresh copy, and returns the last verdict and the mean time
// per run as the kernel measured it.
func BenchmarkProgram(prog *ebpf.Program, data []byte, repeat int) (Verdict, time.Duration, error) {
	var total time.Duration
	var ret uint32
	for i := 0; i < max(repeat, 1); i++ {
		r, d, err := prog.Benchmark(data, 1, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("benchmarking program: %w", err)
		}
		ret, total = r, total+d
	}
	return Verdict(ret), total / time.Duration(max(repeat, 1)), nil
}

// load loads a copy of spec for the plan through bpf/loader: maps
// unpinned, only the given programs (those the scenario runs, or more),
// the scenario's values set, the verifier log at level (0: none).
func (p *plan) load(spec *ebpf.CollectionSpec, s *Scenario, programs []string, level ebpf.LogLevel) (*ebpf.Collection, error) {
	cs := spec.Copy()
	for _, v := range p.vars {
		if err := cs.Variables[v.name].Set(v.b); err != nil {
			return nil, fmt.Errorf("setting variable %q: %w", v.name, err)
		}
	}
	coll, err := loader.Load(cs, loader.Options{Programs: programs, LogLevel: level})
	if err != nil {
		return nil, &LoadError{Scenario: s.Name, Err: err}
	}
	return coll, nil
}

// write writes map entries; an entry the kernel rejects (an LPM prefix
// longer than the address, a full map) is a problem of the scenario.
func (p *plan) write(coll *ebpf.Collection, s *Scenario, ws []write) error {
	d := &diags{file: s.File}
	for _, w := range ws {
		m := coll.Maps[w.m]
		var value any = w.value
		if perCPU(m) {
			// Every CPU gets the value, so that the program sees it
			// wherever it runs.
			n, err := copies(m)
			if err != nil {
				return err
			}
			value = slices.Repeat([][]byte{w.value}, n)
		}
		if err := m.Update(w.key, value, ebpf.UpdateAny); err != nil {
			d.add(w.node, ruleRejected, "map %q rejected the entry: %v", w.m, err)
		}
	}
	return d.err()
}

// execute runs one packet and checks the run's expectations.
func (p *plan) execute(coll *ebpf.Collection, r *runPlan) (*RunResult, error) {
	var ctxOut skbCtx
	opts := &ebpf.RunOptions{
		Data:       r.data,
		DataOut:    make([]byte, len(r.data)+outputRoom),
		Context:    r.ctx,
		ContextOut: &ctxOut,
		Repeat:     1,
	}
	start := time.Now()
	ret, err := coll.Programs[r.program].Run(opts)
	elapsed := time.Since(start)
	if err != nil {
		what := fmt.Sprintf("running program %q", r.program)
		if r.label != "" {
			what += " in " + r.label
		}
		switch {
		case errors.Is(err, syscall.ENODEV) && r.ifindex > 1:
			return nil, fmt.Errorf("%s: ctx ifindex %d is not an interface of this network namespace: %w", what, r.ifindex, err)
		case errors.Is(err, syscall.ENOSPC):
			return nil, fmt.Errorf("%s: output packet larger than %d bytes: %w", what, len(opts.DataOut), err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rr := &RunResult{
		Step:     r.label,
		Program:  r.program,
		Verdict:  Verdict(ret),
		Output:   packet.Hex(opts.DataOut), // resliced to the output length
		Ctx:      ctxOf(&ctxOut),
		Duration: elapsed,
	}
	got, perr := packet.Parse(opts.DataOut)
	rr.Packet = got
	if perr != nil {
		rr.ParseError = perr.Error()
	}
	fail := func(check, format string, args ...any) {
		rr.Failures = append(rr.Failures, Failure{Step: r.label, Check: check, Message: fmt.Sprintf(format, args...)})
	}
	exp := r.expect
	if exp.verdict != nil && *exp.verdict != rr.Verdict {
		fail("verdict", "want %s, got %s", exp.verdict.describe(), rr.Verdict.describe())
	}
	if exp.packet != nil {
		if diff := packet.Diff(exp.packet, got); diff != "" {
			msg := "output differs (-want +got):\n" + diff
			if perr != nil {
				msg = fmt.Sprintf("output does not parse (%v); ", perr) + msg
			}
			fail("packet", "%s", strings.TrimRight(msg, "\n"))
		}
	}
	if exp.ctx != nil {
		for _, line := range exp.ctx.diff(&ctxOut) {
			fail("ctx", "%s", line)
		}
	}
	for _, mp := range exp.maps {
		msgs, err := p.checkMap(coll.Maps[mp.name], mp)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			fail("maps."+mp.name, "%s", m)
		}
	}
	return rr, nil
}

// mapView reads one map after a run, reading all entries at most once.
type mapView struct {
	codec  codec
	m      *ebpf.Map
	spec   *ebpf.MapSpec
	all    []kv
	loaded bool
}

type kv struct{ key, value []byte }

// value combines the per-CPU copies of a raw lookup.
func (v *mapView) value(raw []byte) []byte {
	if perCPU(v.m) && !slices.ContainsFunc(raw, func(b byte) bool { return b != 0 }) {
		// Every copy is zero, and so is the sum: an array's untouched
		// elements, most of a large one, skip summing.
		return raw[:min(len(raw), int(v.m.ValueSize()))]
	}
	if cpus, ok := perCPUValues(v.m, raw).([][]byte); ok {
		return v.codec.sumPerCPU(mapValue(v.spec), cpus)
	}
	return raw
}

// lookup looks up a key laid out as the scenario writes it (rawKey).
func (v *mapView) lookup(key []byte) ([]byte, bool, error) {
	k, ok := v.codec.rawKey(v.spec, key)
	if !ok {
		return nil, false, nil
	}
	return v.lookupRaw(k)
}

func (v *mapView) lookupRaw(key []byte) ([]byte, bool, error) {
	raw, err := v.m.LookupBytes(key)
	if err != nil {
		return nil, false, fmt.Errorf("looking up map entry: %w", err)
	}
	if raw == nil {
		return nil, false, nil
	}
	return v.value(raw), true, nil
}

func (v *mapView) entries() ([]kv, error) {
	if v.loaded {
		return v.all, nil
	}
	raw, err := rawEntries(v.m)
	if err != nil {
		return nil, fmt.Errorf("reading map: %w", err)
	}
	for _, e := range raw {
		v.all = append(v.all, kv{v.codec.viewKey(v.spec, e.key), v.value(e.value)})
	}
	v.loaded = true
	return v.all, nil
}

// shown are the entries worth listing: for array maps, those not all zero.
func (v *mapView) shown(all []kv) []kv {
	if !arrayMap(v.m.Type()) {
		return all
	}
	var out []kv
	for _, e := range all {
		if slices.ContainsFunc(e.value, func(b byte) bool { return b != 0 }) {
			out = append(out, e)
		}
	}
	return out
}

func (v *mapView) format(e kv) string {
	return render(v.codec.decode(e.key, mapKey(v.spec), 0)) + " -> " + render(v.codec.decode(e.value, mapValue(v.spec), 0))
}

// listing lists entries for a failure message, at most maxListed of them.
func (v *mapView) listing(entries []kv) string {
	const maxListed = 20
	var sb strings.Builder
	switch len(entries) {
	case 0:
		fmt.Fprintf(&sb, "\n  %s holds no entries", v.spec.Name)
		if arrayMap(v.m.Type()) {
			sb.WriteString(" that are not zero")
		}
		return sb.String()
	case 1:
		fmt.Fprintf(&sb, "\n  %s holds 1 entry:", v.spec.Name)
	default:
		fmt.Fprintf(&sb, "\n  %s holds %d entries:", v.spec.Name, len(entries))
	}
	for i, e := range entries {
		if i == maxListed {
			fmt.Fprintf(&sb, "\n    ... and %d more", len(entries)-maxListed)
			break
		}
		sb.WriteString("\n    " + v.format(e))
	}
	return sb.String()
}

// candidates returns the entries whose key matches the pattern. A fully
// given key is looked up directly, except in an LPM trie, where a lookup is
// a longest-prefix match rather than an exact one.
func (v *mapView) candidates(key *image) ([]kv, error) {
	if key.full() && v.m.Type() != ebpf.LPMTrie {
		val, ok, err := v.lookup(key.buf)
		if err != nil || !ok {
			return nil, err
		}
		return []kv{{key.buf, val}}, nil
	}
	all, err := v.entries()
	if err != nil {
		return nil, err
	}
	var out []kv
	for _, e := range all {
		if key.matches(e.key) {
			out = append(out, e)
		}
	}
	return out, nil
}

// checkMap returns one message per failed expectation on a map.
func (p *plan) checkMap(m *ebpf.Map, mp mapPlan) ([]string, error) {
	v := &mapView{codec: p.codec, m: m, spec: mp.spec}
	var msgs []string
	wrap := func(err error) error { return fmt.Errorf("checking map %q: %w", mp.name, err) }
	for _, e := range mp.entries {
		cands, err := v.candidates(e.key)
		if err != nil {
			return nil, wrap(err)
		}
		if len(cands) == 0 {
			all, err := v.entries()
			if err != nil {
				return nil, wrap(err)
			}
			msgs = append(msgs, fmt.Sprintf("no entry with key %s (line %d)%s", render(e.keyNode), e.keyNode.Line, v.listing(v.shown(all))))
			continue
		}
		if e.value == nil || slices.ContainsFunc(cands, func(c kv) bool { return e.value.matches(c.value) }) {
			continue
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "entry with key %s (line %d) has other values:", render(e.keyNode), e.keyNode.Line)
		for i, c := range cands {
			if i == 5 {
				fmt.Fprintf(&sb, "\n  ... and %d more entries", len(cands)-5)
				break
			}
			sb.WriteString("\n  " + v.format(c))
			for _, l := range e.value.leaves {
				if !e.value.leafMatches(c.value, l) {
					fmt.Fprintf(&sb, "\n    %s: want %s, got %s", l.path, render(l.node), render(p.codec.decodeLeaf(c.value, l)))
				}
			}
		}
		msgs = append(msgs, sb.String())
	}
	for _, a := range mp.absent {
		cands, err := v.candidates(a.key)
		if err != nil {
			return nil, wrap(err)
		}
		if len(cands) > 0 {
			msgs = append(msgs, fmt.Sprintf("want no entry with key %s (line %d), found %d:%s",
				render(a.node), a.node.Line, len(cands), indent(v, cands)))
		}
	}
	if mp.count != nil {
		all, err := v.entries()
		if err != nil {
			return nil, wrap(err)
		}
		n := len(all)
		if arrayMap(m.Type()) {
			n = len(v.shown(all))
		}
		if n != *mp.count {
			what := "entries"
			if arrayMap(m.Type()) {
				what = "entries that are not zero"
			}
			msgs = append(msgs, fmt.Sprintf("want %d %s, got %d%s", *mp.count, what, n, v.listing(v.shown(all))))
		}
	}
	return msgs, nil
}

func indent(v *mapView, entries []kv) string {
	var sb strings.Builder
	for _, e := range entries {
		sb.WriteString("\n  " + v.format(e))
	}
	return sb.String()
}
