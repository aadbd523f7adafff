package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader/node"
)

// snapshot is what a node's datapath looks like from outside: the record,
// the program on every hook, and the files under its bpffs directory.
type snapshot struct {
	Record *node.Record
	Hooks  []node.HookStatus
	Pins   []string
}

func (n *e2eNode) loader() *node.Node {
	return &node.Node{Dir: n.bpffs, RecordPath: filepath.Join(n.runDir, recordName(n.bpffs))}
}

func (n *e2eNode) snapshot(t testing.TB) snapshot {
	t.Helper()
	var s snapshot
	err := n.ns.Do(func() error {
		st, err := n.loader().Status()
		if errors.Is(err, node.ErrNotAttached) {
			return nil
		}
		if err != nil {
			return err
		}
		s.Record, s.Hooks = st.Record, st.Hooks
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(n.bpffs, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(n.bpffs, path)
			s.Pins = append(s.Pins, rel)
		}
		return nil
	})
	slices.Sort(s.Pins)
	return s
}

// breakProgram makes the verifier reject cil_to_netdev: it reads far past
// the end of the context.
func breakProgram(spec *ebpf.CollectionSpec) error {
	spec.Programs[bpf.ProgToNetdev].Instructions = asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 4000, asm.Word),
		asm.Return(),
	}
	return nil
}

// TestReplaceRollback injects a failure into each step of a replace and
// checks that the node is left exactly as it was, still forwarding.
func TestReplaceRollback(t *testing.T) {
	rc := routingCases[2]
	requireRoot(t)
	build2 := secondBuildDir(t)
	tp := setup(t, rc, [2]int{2, 1}, nil)
	n1 := tp.nodes[0]
	a, c := n1.pods[0], tp.nodes[1].pods[0]
	udpEcho(t, c.ns, netip.AddrPortFrom(c.ip, 9000))
	b, err := node.OpenBuild(build2)
	if err != nil {
		t.Fatal(err)
	}
	hybrid := variantWith(t, build2, "ENABLE_IPV4", "ENABLE_HOST_ROUTING", "ENABLE_NODEPORT", "ENABLE_MASQUERADE_IPV4",
		"ENABLE_DSR", "DSR_ENCAP_MODE", "ENABLE_DSR_HYBRID", "HAVE_RINGBUF")
	cases := []struct {
		name string
		set  func(n *node.Node)
		// gone is a device the failure removes for real.
		gone string
		// want is in the error.
		want string
	}{
		{name: "verifier rejects a program", want: "invalid bpf_context access", set: func(n *node.Node) { n.Edit = breakProgram }},
		{name: "incompatible map layout", want: "cannot be migrated", set: func(n *node.Node) {
			n.Edit = func(spec *ebpf.CollectionSpec) error {
				spec.Maps[bpf.MapPolicy].ValueSize *= 2 // the entries would not fit
				return nil
			}
		}},
		{name: "bpffs full while pinning", want: "no space left on device", set: func(n *node.Node) {
			n.Fault = func(step string) error {
				if strings.HasPrefix(step, "pin ") && strings.HasSuffix(step, bpf.ProgToContainer) {
					return unix.ENOSPC // injected: a bpffs has no size limit to reach for real
				}
				return nil
			}
		}},
		{name: "device gone part-way", gone: "lxc2", want: "on lxc2", set: func(n *node.Node) {
			n.Fault = func(step string) error {
				if strings.HasPrefix(step, "swap ") && strings.Contains(step, " on lxc2") {
					// The device really goes (we are on the node's
					// thread already): the swap that follows fails.
					l, err := netlink.LinkByName("lxc2")
					if err != nil {
						return err
					}
					return netlink.LinkDel(l)
				}
				return nil
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := n1.snapshot(t)
			ldr := n1.loader()
			tc.set(ldr)
			var rerr error
			n1.ns.Do(func() error {
				_, _, rerr = ldr.Replace(node.Spec{Build: b, Node: "native-dsr", Variant: hybrid})
				return nil
			})
			if rerr == nil {
				t.Fatal("replace succeeded despite the failure")
			}
			if !strings.Contains(rerr.Error(), tc.want) {
				t.Fatalf("replace failed for another reason than the injected one (want %q): %v", tc.want, rerr)
			}
			t.Logf("replace failed as it should: %.300s", rerr)
			after := n1.snapshot(t)
			if tc.gone != "" {
				// The gone device's hooks went with it; everything else
				// must be as it was.
				for _, s := range []*snapshot{&before, &after} {
					s.Hooks = slices.DeleteFunc(s.Hooks, func(h node.HookStatus) bool { return h.Device == tc.gone })
				}
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the node changed (-before +after):\n%s", diff)
			}
			if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, 9000)); err != nil {
				t.Errorf("after the failed replace: %v", err)
			}
		})
	}
}

// TestAttachRollback: an attach that fails part-way (a device that does
// not exist, after the others were attached) leaves nothing behind.
func TestAttachRollback(t *testing.T) {
	for _, mode := range []string{"tcx", "tc"} {
		t.Run(mode, func(t *testing.T) {
			requireRoot(t)
			build := buildDir(t)
			tp := newTopology(t, overlayNone, [2]int{1, 0})
			n := tp.nodes[0]
			_, err := n.dpload("attach", "--node", "native-dsr", "--devices", "eth0,nosuch0", "--build", build, "--attach", mode)
			if err == nil {
				t.Fatal("attach to a missing device succeeded")
			}
			t.Logf("attach failed as it should: %v", err)
			if s := n.snapshot(t); s.Record != nil || len(s.Pins) != 0 {
				t.Errorf("left behind: record %v, pins %q", s.Record != nil, s.Pins)
			}
			if err := n.ns.IP("link show eth0"); err != nil {
				t.Fatal(err)
			}
			if left := n.hooksOn(t, "eth0"); len(left) > 0 {
				t.Errorf("left on eth0: %q", left)
			}
		})
	}
}

// hooksOn lists what is attached to a device: TCX programs per direction,
// tc filters, a clsact qdisc.
func (n *e2eNode) hooksOn(t testing.TB, dev string) []string {
	t.Helper()
	var out []string
	err := n.ns.Do(func() error {
		l, err := netlink.LinkByName(dev)
		if err != nil {
			return err
		}
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			res, err := link.QueryPrograms(link.QueryOptions{Target: l.Attrs().Index, Attach: at})
			if err != nil {
				return err
			}
			for _, p := range res.Programs {
				out = append(out, fmt.Sprintf("tcx %s program %d", at, p.ID))
			}
		}
		qdiscs, err := netlink.QdiscList(l)
		if err != nil {
			return err
		}
		for _, q := range qdiscs {
			if q.Type() == "clsact" {
				out = append(out, "clsact qdisc")
			}
		}
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			fs, err := netlink.FilterList(l, parent)
			if err != nil {
				continue // no clsact, no filters
			}
			for _, f := range fs {
				out = append(out, fmt.Sprintf("tc filter %s", f.Type()))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
