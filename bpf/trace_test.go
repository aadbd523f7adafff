package bpf

import (
	"fmt"
	"io/fs"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// TestTraceWrappersOnly checks that every redirect goes through the
// dp_redirect* wrappers of include/trace.h, so that a traced redirect
// always records its own target instead of leaving a previous run's.
func TestTraceWrappersOnly(t *testing.T) {
	comment := regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	call := regexp.MustCompile(`\bbpf_redirect(_peer|_neigh)?\s*\(`)
	err := fs.WalkDir(Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "include/trace.h" {
			return err
		}
		b, err := fs.ReadFile(Source, path)
		if err != nil {
			return err
		}
		// Blank out comments, keeping line breaks for the line numbers.
		code := comment.ReplaceAllStringFunc(string(b), func(c string) string {
			return strings.Repeat("\n", strings.Count(c, "\n"))
		})
		for i, line := range strings.Split(code, "\n") {
			if call.MatchString(line) {
				t.Errorf("%s:%d: %s called directly; use the dp_redirect* wrappers of include/trace.h", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func traceSlot(t *testing.T, coll *ebpf.Collection) TraceInfo {
	t.Helper()
	var ti TraceInfo
	if err := coll.Maps[MapTrace].Lookup(uint32(0), &ti); err != nil {
		t.Fatalf("reading %s: %v", MapTrace, err)
	}
	return ti
}

func withVars(base map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// pktOtherHost is PACKET_OTHERHOST: BPF_PROG_TEST_RUN receives the frame on
// lo, whose MAC is not the frame's destination, and programs other than
// cil_from_overlay leave the type alone.
const pktOtherHost = 3

// TestTraceRecords follows each kind of verdict with cfg_trace set.
func TestTraceRecords(t *testing.T) {
	remoteNode := netip.MustParseAddr("192.168.1.20")
	remotePod := netip.MustParseAddr("10.0.5.9")
	cases := []struct {
		variant string
		prog    string
		setup   func(*testing.T, *ebpf.Collection)
		frame   []byte
		verdict uint32
		want    TraceInfo
	}{{
		variant: "host-routing",
		prog:    ProgFromContainer,
		setup:   addEndpoints,
		frame:   ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil),
		verdict: tcActRedirect,
		want:    TraceInfo{Ifindex: 12, Kind: TraceRedirectPeer, Reason: ReasonForwarded, Hook: HookFromContainer, PktType: pktOtherHost, SecID: 1001},
	}, {
		variant: "tunnel-vxlan",
		prog:    ProgFromContainer,
		setup: func(t *testing.T, coll *ebpf.Collection) {
			addEndpoints(t, coll)
			put(t, coll, MapIPCache, LPM4Key{Prefixlen: 24, Addr: netip.MustParseAddr("10.0.5.0").As4()},
				RemoteEndpointInfo{SecID: 2000, TunnelEP: remoteNode.As4()})
		},
		frame:   ipv4TCP(podANode, podAMAC, podA, remotePod, 64, nil, tcpSeg{40000, 80, 0x02}, nil),
		verdict: tcActRedirect,
		want: TraceInfo{Ifindex: 5, Kind: TraceRedirect, Reason: ReasonForwarded, Hook: HookFromContainer,
			PktType: pktOtherHost, TunnelRemote: remoteNode.As4(), TunnelID: 1001, SecID: 1001},
	}, {
		variant: "minimal",
		prog:    ProgFromContainer,
		setup:   addEndpoints,
		frame:   ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr("10.9.9.9"), 64, nil, tcpSeg{40000, 80, 0x02}, nil),
		verdict: tcActOK,
		want:    TraceInfo{Kind: TraceToStack, Reason: ReasonForwarded, Hook: HookFromContainer, PktType: pktOtherHost, SecID: 1001},
	}, {
		variant: "minimal",
		prog:    ProgFromContainer,
		setup:   addEndpoints,
		frame:   ipv4TCP(podANode, podAMAC, podA, podB, 1, nil, tcpSeg{40000, 80, 0x02}, nil),
		verdict: tcActShot,
		want:    TraceInfo{Kind: TraceDrop, Reason: DropTTLExceeded, Hook: HookFromContainer, PktType: pktOtherHost, SecID: 1001},
	}}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%v", c.variant, c.want.Kind), func(t *testing.T) {
			coll := newCollection(t, variantByName(t, c.variant), withVars(nodeVars, VarTrace, uint32(1)))
			c.setup(t, coll)
			// A stale redirect from an earlier run must not survive a later verdict.
			put(t, coll, MapTrace, uint32(0), TraceInfo{Ifindex: 99, Kind: TraceRedirect, TunnelID: 99, TunnelRemote: [4]byte{9, 9, 9, 9}})
			if ret, _ := run(t, coll, c.prog, c.frame); ret != c.verdict {
				t.Fatalf("verdict %d, want %d", ret, c.verdict)
			}
			if got := traceSlot(t, coll); got != c.want {
				t.Errorf("trace %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestTraceOffWritesNothing: with cfg_trace 0 (the default), redirects,
// hand-offs and drops leave dp_trace all zero.
func TestTraceOffWritesNothing(t *testing.T) {
	for _, name := range []string{"host-routing", "tunnel-vxlan", "all-legacy"} {
		t.Run(name, func(t *testing.T) {
			coll := newCollection(t, variantByName(t, name), nodeVars)
			addEndpoints(t, coll)
			put(t, coll, MapIPCache, LPM4Key{Prefixlen: 24, Addr: netip.MustParseAddr("10.0.5.0").As4()},
				RemoteEndpointInfo{SecID: 2000, TunnelEP: netip.MustParseAddr("192.168.1.20").As4()})
			for _, f := range [][]byte{
				ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil),
				ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr("10.0.5.9"), 64, nil, tcpSeg{40001, 80, 0x02}, nil),
				ipv4TCP(podANode, podAMAC, podA, podB, 1, nil, tcpSeg{40002, 80, 0x02}, nil),
			} {
				for _, prog := range Programs {
					run(t, coll, prog, f)
				}
			}
			if got := traceSlot(t, coll); got != (TraceInfo{}) {
				t.Errorf("cfg_trace 0 wrote %+v", got)
			}
		})
	}
}

// TestTraceDeadWhenOff proves that cfg_trace=0 costs no recording code:
// the kernel drops every instruction its verifier never reached from the
// program it keeps, so a kept program with no reference to dp_trace is
// one whose recording code was neither walked nor JIT-compiled. What
// remains per trace site is loading cfg_trace and, depending on the
// compiler's register allocation, a spill: the test logs the kept and
// verified instruction counts against the same variant compiled with no
// trace code at all (DP_TRACE_ON=0). Verified counts are logged, not
// compared: state pruning makes them swing by a few percent either way
// with any change of register allocation.
func TestTraceDeadWhenOff(t *testing.T) {
	requireRoot(t)
	for _, v := range variants {
		if v.target == "bpfeb" || !v.has("ENABLE_IPV4") {
			continue // compile-only, or no IPv4 path: nothing to compare
		}
		t.Run(v.name, func(t *testing.T) {
			base := v
			base.name += "-notrace"
			base.flags = append(slices.Clone(v.flags), "-DDP_TRACE_ON=0")

			type cost struct{ verified, kept, traceRefs int }
			measure := func(v variant, trace uint32) map[string]cost {
				coll := newCollection(t, v, withVars(nodeVars, VarTrace, trace))
				mi, err := coll.Maps[MapTrace].Info()
				if err != nil {
					t.Fatal(err)
				}
				traceID, ok := mi.ID()
				if !ok {
					t.Skip("SKIPPED: the kernel does not report map ids")
				}
				out := map[string]cost{}
				for _, prog := range Programs {
					info, err := coll.Programs[prog].Info()
					if err != nil {
						t.Fatal(err)
					}
					verified, _ := info.VerifiedInstructions()
					insns, err := info.Instructions()
					if err != nil {
						t.Skipf("SKIPPED: reading the kept program: %v", err)
					}
					c := cost{verified: int(verified), kept: int(insns.Size() / asmInsnSize)}
					for _, ins := range insns {
						// Dumped map references carry the map id in imm.
						if ins.IsLoadFromMap() && uint32(ins.Constant) == uint32(traceID) {
							c.traceRefs++
						}
					}
					out[prog] = c
				}
				return out
			}
			without, off, on := measure(base, 0), measure(v, 0), measure(v, 1)

			var lines []string
			for _, prog := range Programs {
				w, o, n := without[prog], off[prog], on[prog]
				if o.traceRefs != 0 {
					t.Errorf("%s: cfg_trace=0 keeps %d references to %s: the recording code was walked", prog, o.traceRefs, MapTrace)
				}
				if n.traceRefs == 0 {
					t.Errorf("%s: cfg_trace=1 keeps no reference to %s: nothing is recorded", prog, MapTrace)
				}
				lines = append(lines, fmt.Sprintf("%-19s kept %5d, %5d with cfg_trace=0 (%+d), %5d with 1; verified %6d, %6d (%+d), %6d",
					prog, w.kept, o.kept, o.kept-w.kept, n.kept, w.verified, o.verified, o.verified-w.verified, n.verified))
			}
			t.Logf("variant %s, no trace code vs cfg_trace=0 vs 1:\n%s", v.name, strings.Join(lines, "\n"))
		})
	}
}
