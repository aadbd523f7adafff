package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/bpf/manifest"
)

// BenchmarkAttach measures, for every distinct variant the default
// matrix's nodes run, the time from `dpload attach` (probe, pick, load,
// set values, pin, attach every hook) to a datapath that forwards: the
// state applied and the first UDP echo between two pods on the node
// answered.
func BenchmarkAttach(b *testing.B) {
	requireRoot(b)
	build := buildDir(b)
	m, err := manifest.Load(filepath.Join(build, "manifest.json"))
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range m.Nodes {
		if seen[n.Variant] {
			continue
		}
		seen[n.Variant] = true
		v := m.Variant(n.Variant)
		_, tunnel := v.Defines["TUNNEL_MODE"]
		b.Run(n.Name, func(b *testing.B) {
			var attach, forwarding time.Duration
			for range b.N {
				b.StopTimer()
				tp := newTopology(b, vxlanIf(tunnel), [2]int{2, 0})
				n1 := tp.nodes[0]
				a, p := n1.pods[0], n1.pods[1]
				udpEcho(b, p.ns, netip.AddrPortFrom(p.ip, podUDP))
				st := filepath.Join(b.TempDir(), "state.yaml")
				writeState(b, st, tp.state(n1, node.State{}))
				b.StartTimer()
				start := time.Now()
				args := []string{"attach", "--node", n.Name, "--devices", "eth0", "--build", build}
				if tunnel {
					args = append(args, "--tunnel-device", vxlanDevice)
				}
				if _, err := n1.dpload(args...); err != nil {
					b.Fatal(err)
				}
				attach += time.Since(start)
				if _, err := n1.dpload("state", "apply", st); err != nil {
					b.Fatal(err)
				}
				if err := udpExchange(a.ns, netip.AddrPortFrom(p.ip, podUDP)); err != nil {
					b.Fatal(err)
				}
				forwarding += time.Since(start)
				b.StopTimer()
				if _, err := n1.dpload("detach"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(attach.Milliseconds())/float64(b.N), "ms/attach")
			b.ReportMetric(float64(forwarding.Milliseconds())/float64(b.N), "ms/forwarding")
		})
	}
}

// BenchmarkStateApply measures `dpload state apply` of 1,000 endpoints
// (each a real veth that gets both endpoint programs) and 10,000 services
// of one backend each, first onto empty maps, then again unchanged (the
// idempotent no-op a control plane's resync costs).
func BenchmarkStateApply(b *testing.B) {
	requireRoot(b)
	build := buildDir(b)
	const endpoints, services = 1000, 10000
	for range b.N {
		b.StopTimer()
		tp := newTopology(b, overlayNone, [2]int{0, 0})
		n1 := tp.nodes[0]
		var st node.State
		err := n1.ns.Do(func() error {
			for i := range endpoints {
				name := fmt.Sprintf("lxc%d", i)
				veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: fmt.Sprintf("pod%d", i)}
				if err := netlink.LinkAdd(veth); err != nil {
					return fmt.Errorf("adding %s: %w", name, err)
				}
				if err := netlink.LinkSetUp(veth); err != nil {
					return err
				}
				ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
				st.Endpoints = append(st.Endpoints, node.Endpoint{IP: ip.String(), Veth: name, MAC: "02:00:00:00:00:01",
					ID: uint16(i + 1), Identity: uint32(10000 + i)})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for i := range services {
			vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
			be := netip.AddrFrom4([4]byte{10, 1, byte((i % endpoints) >> 8), byte(i % endpoints)})
			st.Services = append(st.Services, node.Service{ID: uint16(i + 1), Frontend: vip.String() + ":80", Protocol: "tcp",
				Backends: []string{be.String() + ":8080"}})
		}
		file := filepath.Join(b.TempDir(), "state.yaml")
		writeState(b, file, st)
		// 10,000 services of one backend are 20,000 service entries: more
		// than the datapath's default 16,384, so the node sizes the map.
		if _, err := n1.dpload("attach", "--node", "native-dsr", "--devices", "eth0", "--build", build,
			"--map-max", "dp_services=65536,dp_backends=65536,dp_revnat=65536", "--attach", benchAttachMode); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out, err := n1.dpload("state", "apply", file)
		first := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		again, err := n1.dpload("state", "apply", file)
		noop := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(again, "0 added, 0 updated, 0 removed") {
			b.Errorf("second apply changed something: %s", again)
		}
		b.Logf("first: %s; again: %s", strings.TrimSpace(out), strings.TrimSpace(again))
		b.ReportMetric(float64(first.Milliseconds()), "ms/first-apply")
		b.ReportMetric(float64(noop.Milliseconds()), "ms/noop-apply")
		var st2 *node.Status
		err = n1.ns.Do(func() (err error) { st2, err = n1.loader().Status(); return err })
		if err == nil {
			attached := slices.IndexFunc(st2.Hooks, func(h node.HookStatus) bool { return !h.Attached })
			if len(st2.Hooks) != 2*endpoints+2 || attached >= 0 {
				b.Errorf("status: %d hooks, first not attached at %d", len(st2.Hooks), attached)
			}
		}
		// A replace on this node swaps 2,002 hooks.
		start = time.Now()
		if _, err := n1.dpload("replace", "--build", build); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/replace")
		start = time.Now()
		if _, err := n1.dpload("detach"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/detach")
	}
}

// benchAttachMode is the attach mode of BenchmarkStateApply; set
// DPLOAD_BENCH_ATTACH=tc to measure tc filters instead of TCX links.
var benchAttachMode = cmp.Or(os.Getenv("DPLOAD_BENCH_ATTACH"), "tcx")
