package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader"
)

// A node loader keeps three things: maps pinned under Dir/maps, the
// programs pinned under Dir/progs (so that a later `state apply` can put
// them on a new endpoint's veth and a replace can roll back to them), and
// TCX links pinned under Dir/links. What it attached is recorded in
// RecordPath, a JSON file outside bpffs (bpffs holds BPF objects only).

// Node is a loader for one node: where its pins and its record live.
type Node struct {
	// Dir is a directory on a bpffs, e.g. /sys/fs/bpf/dpforge.
	Dir string
	// RecordPath is the JSON record of what is attached.
	RecordPath string
	// Fault, when set, is called before each step of an attach or replace
	// with the step's name; an error it returns fails that step. Tests use
	// it to inject failures part-way.
	Fault func(step string) error
	// Edit, when set, may change a variant's spec after its values are
	// set and before it is loaded (tests make the verifier reject it).
	Edit func(spec *ebpf.CollectionSpec) error
}

// Record is what a node loader put on a node.
type Record struct {
	Node    string     `json:"node"`
	Variant string     `json:"variant"`
	Build   string     `json:"build"`
	Source  string     `json:"source"`
	Mode    AttachMode `json:"mode"`
	Devices []string   `json:"devices"`
	Tunnel  string     `json:"tunnel_device,omitempty"`
	// Values are the load-time values the programs were loaded with.
	Values map[string]string `json:"values"`
	// Overrides and MapMax are what the operator gave (Spec.Values and
	// Spec.MapMax); a replace keeps them.
	Overrides map[string]string `json:"overrides,omitempty"`
	MapMax    map[string]uint32 `json:"map_max,omitempty"`
	// Hooks, sorted by device then direction.
	Hooks []Hook `json:"hooks"`
	// Endpoints are the host-side veths of endpoints a state put hooks on.
	Endpoints []string `json:"endpoints,omitempty"`
}

// Spec is what to attach.
type Spec struct {
	Build   *Build
	Node    string
	Variant string
	// Devices are the native devices; Tunnel the overlay device, if any.
	Devices []string
	Tunnel  string
	Mode    AttachMode
	// Values override or add to the node's load-time values from the
	// manifest; the loader fills in the node address, MAC and ifindexes
	// from the devices unless given here.
	Values map[string]string
	// MapMax overrides maps' maximum number of entries (a pinned map of
	// another size is migrated into one of the new size).
	MapMax map[string]uint32
	// Endpoints are host-side veths to attach the endpoint programs to
	// (replace keeps the recorded ones).
	Endpoints []string
}

// lock takes the node's lock (an exclusive flock beside the record), so
// that two loaders never change one node at once; a second one waits.
func (n *Node) lock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(n.RecordPath), 0o755); err != nil {
		return nil, fmt.Errorf("locking the node: %w", err)
	}
	f, err := os.OpenFile(n.RecordPath+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the node: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the node: %w", err)
	}
	return func() { f.Close() }, nil
}

func (n *Node) fault(step string) error {
	if n.Fault == nil {
		return nil
	}
	return n.Fault(step)
}

// ErrNotAttached is returned when the record says nothing is attached.
var ErrNotAttached = errors.New("nothing is attached")

// LoadRecord reads the record, or ErrNotAttached.
func (n *Node) LoadRecord() (*Record, error) {
	data, err := os.ReadFile(n.RecordPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotAttached
	}
	if err != nil {
		return nil, fmt.Errorf("reading record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading record %s: %w", n.RecordPath, err)
	}
	return &r, nil
}

func (n *Node) writeRecord(r *Record) error {
	slices.SortFunc(r.Hooks, func(a, b Hook) int {
		return strings.Compare(a.Device+"/"+string(a.Direction), b.Device+"/"+string(b.Direction))
	})
	slices.Sort(r.Endpoints)
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.RecordPath), 0o755); err != nil {
		return fmt.Errorf("writing record: %w", err)
	}
	tmp := n.RecordPath + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing record: %w", err)
	}
	if err := os.Rename(tmp, n.RecordPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing record: %w", err)
	}
	return nil
}

func (n *Node) mapPath(name string) string  { return filepath.Join(n.Dir, "maps", name) }
func (n *Node) progPath(name string) string { return filepath.Join(n.Dir, "progs", name) }

// hooksFor lists the hooks of s: each side of each native device, of the
// overlay device and of each endpoint veth, with its program.
func hooksFor(s Spec) []Hook {
	var hooks []Hook
	add := func(dev, in, out string) {
		hooks = append(hooks,
			Hook{Device: dev, Direction: Ingress, Program: in, Mode: s.Mode},
			Hook{Device: dev, Direction: Egress, Program: out, Mode: s.Mode})
	}
	for _, d := range s.Devices {
		add(d, bpf.ProgFromNetdev, bpf.ProgToNetdev)
	}
	if s.Tunnel != "" {
		add(s.Tunnel, bpf.ProgFromOverlay, bpf.ProgToOverlay)
	}
	for _, e := range s.Endpoints {
		add(e, bpf.ProgFromContainer, bpf.ProgToContainer)
	}
	return hooks
}

// nodeValues returns the load-time values of a node: the manifest's, then
// what the devices say (address, MAC and ifindex of the first native
// device, ifindex of the overlay device), then the overrides.
func nodeValues(s Spec) (map[string]string, error) {
	values := map[string]string{}
	if node, err := s.Build.Node(s.Node); err == nil {
		maps.Copy(values, node.Values)
	}
	if len(s.Devices) > 0 {
		dev, err := netlink.LinkByName(s.Devices[0])
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", s.Devices[0], err)
		}
		values[bpf.VarNodeMAC] = dev.Attrs().HardwareAddr.String()
		if len(s.Devices) == 1 {
			// Masquerade on that device only; 0 means on every native device.
			values[bpf.VarNativeIfindex] = strconv.Itoa(dev.Attrs().Index)
		}
		addrs, err := netlink.AddrList(dev, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("device %q: addresses: %w", s.Devices[0], err)
		}
		for _, a := range addrs {
			if a.IP.IsGlobalUnicast() {
				values[bpf.VarNodeIPv4] = a.IP.String()
				break
			}
		}
	}
	if s.Tunnel != "" {
		dev, err := netlink.LinkByName(s.Tunnel)
		if err != nil {
			return nil, fmt.Errorf("tunnel device %q: %w", s.Tunnel, err)
		}
		values[bpf.VarEncapIfindex] = strconv.Itoa(dev.Attrs().Index)
	}
	maps.Copy(values, s.Values)
	return values, nil
}

// ephemeral maps hold no state worth keeping across a replace: a layout
// change gives them a fresh map instead of a migration. The counters of
// dp_metrics start again when its layout changes (a per-CPU hash became
// a per-CPU array indexed by reason, direction and hook).
var ephemeral = map[string]bool{bpf.MapEvents: true, bpf.MapMetrics: true, bpf.MapTrace: true}

func (n *Node) prepare(s Spec) (*ebpf.Collection, *loader.MapPlan, map[string]string, error) {
	values, err := nodeValues(s)
	if err != nil {
		return nil, nil, nil, err
	}
	spec, err := s.Build.Spec(s.Variant)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := loader.SetValues(spec, values); err != nil {
		return nil, nil, nil, fmt.Errorf("variant %q: %w", s.Variant, err)
	}
	// The node's conntrack and NAT table sizes (the object's are defaults);
	// MapMax overrides them.
	if node, err := s.Build.Node(s.Node); err == nil {
		if err := loader.SetMapSizes(spec, node.MapSizes); err != nil {
			return nil, nil, nil, fmt.Errorf("node %q: %w", s.Node, err)
		}
	}
	for _, name := range sortedKeys(s.MapMax) {
		ms := spec.Maps[name]
		if ms == nil || strings.HasPrefix(name, ".") {
			return nil, nil, nil, fmt.Errorf("variant %q has no map %q to size", s.Variant, name)
		}
		ms.MaxEntries = s.MapMax[name]
	}
	if n.Edit != nil {
		if err := n.Edit(spec); err != nil {
			return nil, nil, nil, err
		}
	}
	plan, err := loader.PlanPins(spec, filepath.Join(n.Dir, "maps"), func(name string) bool { return ephemeral[name] })
	if err != nil {
		return nil, nil, nil, fmt.Errorf("variant %q: %w", s.Variant, err)
	}
	coll, err := loader.Load(spec, loader.Options{Variant: s.Variant, MapReplacements: plan.Replacements})
	if err != nil {
		plan.Close()
		return nil, nil, nil, err
	}
	return coll, plan, values, nil
}

// Attach loads s's variant and attaches every program to its hooks. It
// returns only when all are attached; if any step fails, everything done
// so far is undone and nothing stays attached or pinned by this call.
func (n *Node) Attach(s Spec) (*Record, error) {
	unlock, err := n.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r, err := n.LoadRecord(); err == nil {
		return nil, fmt.Errorf("node %q already has variant %s of build %s attached (replace or detach it)", r.Node, r.Variant, r.Build)
	} else if !errors.Is(err, ErrNotAttached) {
		return nil, err
	}
	if s.Mode == "" {
		return nil, fmt.Errorf("attach: no attach mode")
	}
	coll, plan, values, err := n.prepare(s)
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	defer plan.Close()

	var done []Hook
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			detachHook(done[i])
		}
	}
	if err := n.attachAll(hooksFor(s), coll.Programs, &done); err != nil {
		undo()
		return nil, err
	}
	r := &Record{
		Node: s.Node, Variant: s.Variant, Build: s.Build.ID, Source: s.Build.Source, Mode: s.Mode,
		Devices: s.Devices, Tunnel: s.Tunnel, Values: values, Hooks: done, Endpoints: s.Endpoints,
		Overrides: s.Values, MapMax: s.MapMax,
	}
	if err := n.commit(coll, plan, r); err != nil {
		undo()
		return nil, err
	}
	return r, nil
}

// attachAll attaches hooks in order, appending each to done. A clsact
// qdisc the loader adds for a device is recorded on every hook of that
// device, so whichever of them is detached last removes it.
func (n *Node) attachAll(hooks []Hook, progs map[string]*ebpf.Program, done *[]Hook) error {
	added := map[string]bool{}
	for _, h := range hooks {
		if err := n.fault("attach " + h.String()); err != nil {
			return err
		}
		h, err := attachHook(n.Dir, h, progs[h.Program])
		if err != nil {
			return err
		}
		if h.Qdisc {
			added[h.Device] = true
			for i := range *done {
				if (*done)[i].Device == h.Device {
					(*done)[i].Qdisc = true
				}
			}
		}
		h.Qdisc = h.Qdisc || added[h.Device]
		*done = append(*done, h)
	}
	return nil
}

// commit pins the maps and programs of a loaded collection and writes the
// record. Everything is first pinned under a temporary name, the step that
// can fail (a full or read-only bpffs); only then are the pins renamed into
// place, so a failed commit leaves the previous pins as they were.
func (n *Node) commit(coll *ebpf.Collection, plan *loader.MapPlan, r *Record) error {
	type pin struct{ tmp, path string }
	var pins []pin
	cleanup := func() {
		for _, p := range pins {
			os.Remove(p.tmp)
		}
	}
	stage := func(path string, pinFn func(string) error) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		tmp := path + "_new" // bpffs refuses names with a dot
		os.Remove(tmp)
		if err := n.fault("pin " + path); err != nil {
			return err
		}
		if err := pinFn(tmp); err != nil {
			return err
		}
		pins = append(pins, pin{tmp, path})
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(plan.New)) {
		if err := stage(n.mapPath(name), plan.New[name].Pin); err != nil {
			cleanup()
			return fmt.Errorf("pinning map %s: %w", name, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(coll.Programs)) {
		if err := stage(n.progPath(name), coll.Programs[name].Pin); err != nil {
			cleanup()
			return fmt.Errorf("pinning program %s: %w", name, err)
		}
	}
	for _, p := range pins {
		if err := os.Rename(p.tmp, p.path); err != nil {
			cleanup()
			return fmt.Errorf("pinning %s: %w", p.path, err)
		}
	}
	return n.writeRecord(r)
}

// Replace swaps the attached datapath for s (another build or variant)
// without a moment without a program: stateful maps stay pinned and are
// reused (or migrated), and every hook's program is swapped atomically. If
// any step fails, the hooks swapped so far get their old program back and
// the pins are left as they were.
func (n *Node) Replace(s Spec) (*Record, []string, error) {
	unlock, err := n.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	old, err := n.LoadRecord()
	if err != nil {
		return nil, nil, err
	}
	s.Devices, s.Tunnel, s.Endpoints = old.Devices, old.Tunnel, old.Endpoints
	s.Mode = old.Mode
	if s.Node == "" {
		s.Node = old.Node
	}
	s.Values = mergeNew(old.Overrides, s.Values)
	s.MapMax = mergeNew(old.MapMax, s.MapMax)
	coll, plan, values, err := n.prepare(s)
	if err != nil {
		return nil, nil, err
	}
	defer coll.Close()
	defer plan.Close()

	oldProgs := map[string]*ebpf.Program{}
	defer func() {
		for _, p := range oldProgs {
			p.Close()
		}
	}()
	for _, name := range bpf.Programs {
		p, err := ebpf.LoadPinnedProgram(n.progPath(name), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("loading the attached program %s: %w", name, err)
		}
		oldProgs[name] = p
	}
	var swapped []Hook
	rollback := func() error {
		var errs []error
		for i := len(swapped) - 1; i >= 0; i-- {
			if err := swapHook(swapped[i], oldProgs[swapped[i].Program]); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, h := range old.Hooks {
		if err := n.fault("swap " + h.String()); err != nil {
			if rerr := rollback(); rerr != nil {
				return nil, nil, fmt.Errorf("%w; rolling back: %w", err, rerr)
			}
			return nil, nil, err
		}
		if err := swapHook(h, coll.Programs[h.Program]); err != nil {
			if rerr := rollback(); rerr != nil {
				return nil, nil, fmt.Errorf("%w; rolling back: %w", err, rerr)
			}
			return nil, nil, err
		}
		swapped = append(swapped, h)
	}
	r := *old
	r.Node, r.Variant, r.Build, r.Source, r.Values = s.Node, s.Variant, s.Build.ID, s.Build.Source, values
	r.Overrides, r.MapMax = s.Values, s.MapMax
	if err := n.commit(coll, plan, &r); err != nil {
		if rerr := rollback(); rerr != nil {
			return nil, nil, fmt.Errorf("%w; rolling back: %w", err, rerr)
		}
		return nil, nil, err
	}
	return &r, plan.Migrated, nil
}

// Detach removes every hook, pin and the record. It goes on after an
// error and reports all of them.
func (n *Node) Detach() error {
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	r, err := n.LoadRecord()
	if err != nil {
		return err
	}
	var errs []error
	// Egress last on each device: it takes the clsact qdisc with it.
	hooks := slices.Clone(r.Hooks)
	slices.SortStableFunc(hooks, func(a, b Hook) int { return strings.Compare(string(b.Direction), string(a.Direction)) })
	for _, h := range hooks {
		if err := detachHook(h); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sub := range []string{"links", "progs", "maps"} {
		if err := os.RemoveAll(filepath.Join(n.Dir, sub)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(n.RecordPath); err != nil {
		errs = append(errs, err)
	}
	os.Remove(n.RecordPath + ".lock") // held until we return; a waiting loader finds nothing attached
	return errors.Join(errs...)
}

// mergeNew returns old with new's entries on top, nil if both are empty.
func mergeNew[V any](old, new map[string]V) map[string]V {
	if len(old)+len(new) == 0 {
		return nil
	}
	out := maps.Clone(old)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, new)
	return out
}
