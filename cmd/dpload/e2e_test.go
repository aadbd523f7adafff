package main

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// buildFixture is a build made once per test binary: under testRoot, or
// in DPLOAD_TEST_FIXTURES/name, where a build that is there already (it
// has a manifest) is used as it is, without clang.
type buildFixture struct {
	name string
	once sync.Once
	dir  string
	err  error
}

// get makes the build with mk the first time and returns its directory.
func (f *buildFixture) get(t testing.TB, what string, mk func(dir string) error) string {
	t.Helper()
	f.once.Do(func() {
		if root := os.Getenv(envFixtures); root != "" {
			f.dir = filepath.Join(root, f.name)
			if _, err := os.Stat(filepath.Join(f.dir, "manifest.json")); err == nil {
				return
			}
			if f.err = os.MkdirAll(f.dir, 0o755); f.err == nil {
				f.err = mk(f.dir)
			}
			return
		}
		// Inside testRoot: the output directory's lock file lands beside it.
		f.dir, f.err = os.MkdirTemp(testRoot, "build-")
		if f.err == nil {
			f.err = mk(f.dir)
		}
	})
	if f.err != nil {
		t.Fatalf("building %s: %v", what, f.err)
	}
	return f.dir
}

// The build the suite attaches: the default matrix, built with dpforge.
var fixture = buildFixture{name: "build"}

func buildDir(t testing.TB) string {
	return fixture.get(t, "the default matrix", func(dir string) error { return dpforgeBuild(dir, nil) })
}

// TestFixtures makes the suite's builds: with DPLOAD_TEST_FIXTURES=DIR it
// leaves them in DIR/build and DIR/build2, for a machine without clang
// (a VM kernel) to run the suite on.
func TestFixtures(t *testing.T) {
	for _, dir := range []string{buildDir(t), secondBuildDir(t)} {
		if _, err := manifest.Load(filepath.Join(dir, "manifest.json")); err != nil {
			t.Fatal(err)
		}
		t.Logf("build %s", dir)
	}
}

// dpforgeBuild builds a matrix (default: the embedded default matrix)
// into dir the way `dpforge build --out dir` does, with a cache private to
// the test binary.
func dpforgeBuild(dir string, matrix []byte) error {
	if matrix == nil {
		matrix = config.DefaultMatrix
	}
	cm, diags := config.Parse("matrix.yaml", matrix, nil)
	if diags.HasErrors() {
		return fmt.Errorf("matrix: %v", diags)
	}
	p := plan.Make(cm, "")
	if p.Diags.HasErrors() {
		return fmt.Errorf("plan: %v", p.Diags)
	}
	_, err := generator.Execute(context.Background(), p, generator.Options{
		OutDir: dir, CacheDir: filepath.Join(testRoot, "cache"), WorkDir: filepath.Join(testRoot, "work"),
	})
	return err
}

// testRoot holds what the test binary shares between tests (the builds'
// cache); it is removed at exit.
var testRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dpload-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRoot = dir
	if slowFactor, err = parseSlow(os.Getenv(envSlow)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	recordFile.path = os.Getenv(envRecord)
	code := m.Run()
	os.RemoveAll(testRoot)
	os.Exit(code)
}

// variantWith returns the id of the build's variant whose defines are
// exactly these (values ignored).
func variantWith(t testing.TB, build string, defines ...string) string {
	t.Helper()
	m, err := manifest.Load(filepath.Join(build, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(defines)
	for _, v := range m.Variants {
		if slices.Equal(slices.Sorted(maps.Keys(v.Defines)), defines) {
			return v.ID
		}
	}
	t.Fatalf("the build has no variant with exactly %v", defines)
	return ""
}

// routingCase is one way of routing the suite covers.
type routingCase struct {
	name string
	// overlay is the tunnel: overlayNone, overlayVXLAN or overlayGeneve.
	overlay     string
	hostRouting bool
	// node is the default matrix's node whose variant this is.
	node string
}

// The routing cases; tests pick some by index, so new ones go at the end.
var routingCases = []routingCase{
	{name: "tunnel-host-routing", overlay: overlayVXLAN, hostRouting: true, node: "vxlan-worker-1"},
	{name: "tunnel-legacy", overlay: overlayVXLAN, node: "vxlan-rhel8"},
	{name: "native-host-routing", hostRouting: true, node: "native-dsr"},
	{name: "native-legacy", node: "native-legacy"},
	{name: "tunnel-geneve", overlay: overlayGeneve, hostRouting: true, node: "geneve-worker"},
}

// setup builds the topology for rc, attaches its variant on both nodes and
// applies each node's state. It skips when this kernel has no device the
// case needs or refuses the variant.
func setup(t testing.TB, rc routingCase, pods [2]int, extra func(tp *topology, n *e2eNode) node.State) *topology {
	t.Helper()
	requireRoot(t)
	build := buildDir(t)
	if rc.overlay == overlayGeneve {
		requireKernel(t, "Geneve", "CONFIG_GENEVE", []string{"ip", "link", "add", "probe0", "type", "geneve", "external"})
	}
	tp := newTopology(t, rc.overlay, pods)
	useTopology(t, tp)
	for _, n := range tp.nodes {
		n.attach(t, build, rc.node)
		var st node.State
		if extra != nil {
			st = extra(tp, n)
		}
		n.apply(t, tp.state(n, st))
	}
	return tp
}

func TestTrafficPodToPod(t *testing.T) {
	for _, rc := range routingCases {
		t.Run(rc.name, func(t *testing.T) {
			g := newCaseGroup(t, rc.node, "same-node", "across-nodes")
			tp := setup(g, rc, [2]int{2, 1}, nil)
			a, b, c := tp.nodes[0].pods[0], tp.nodes[0].pods[1], tp.nodes[1].pods[0]
			for _, dst := range []*e2ePod{b, c} {
				where := "same-node"
				if dst == c {
					where = "across-nodes"
				}
				g.run(where, func(t caseT) {
					var wire *sniffer
					if rc.overlay != overlayNone && dst == c {
						wire = sniff(t, tp.nodes[0].ns, "eth0")
					}
					udpEcho(t, dst.ns, netip.AddrPortFrom(dst.ip, 9000))
					tcpEcho(t, dst.ns, netip.AddrPortFrom(dst.ip, 9001))
					if err := udpExchange(a.ns, netip.AddrPortFrom(dst.ip, 9000)); err != nil {
						t.Errorf("%s -> %s: %v", a.ip, dst.ip, err)
					}
					if err := tcpExchange(a.ns, netip.AddrPortFrom(dst.ip, 9001)); err != nil {
						t.Errorf("%s -> %s: %v", a.ip, dst.ip, err)
					}
					p, err := ping(a.ns, dst.ip, 5, replyTimeout(), deadlineIn(10))
					if err != nil {
						t.Fatal(err)
					}
					if p.lost > 0 || p.received != 5 {
						t.Errorf("ping %s -> %s: %d sent, %d received", a.ip, dst.ip, p.sent, p.received)
					}
					if wire != nil {
						// The pods' packets crossed in the overlay's
						// encapsulation: UDP to its port on the wire.
						waitQuiet()
						port := overlayDevices[rc.overlay].port
						if k := wire.udpTo(port); k < 5 {
							t.Errorf("%s: %d UDP datagrams to port %d (%s) on node1's eth0, want at least 5", rc.name, k, port, rc.overlay)
						} else {
							t.Logf("%s: %d datagrams to UDP port %d (%s) on node1's eth0", rc.name, k, port, rc.overlay)
						}
					}
				})
			}
			if t.Failed() {
				tp.logCounters(t)
			}
		})
	}
}

// TestSeed000Observation: with eBPF host routing the sending pod's lxc
// device sees the echo requests but not the replies (bpf_redirect_peer
// hands them straight to the pod); with legacy routing it sees both.
func TestSeed000Observation(t *testing.T) {
	for _, rc := range []routingCase{routingCases[2], routingCases[3]} {
		t.Run(rc.name, func(t *testing.T) {
			c := trafficCase(t, rc.node)
			tp := setup(c, rc, [2]int{2, 0}, nil)
			a, b := tp.nodes[0].pods[0], tp.nodes[0].pods[1]
			s := sniff(c, tp.nodes[0].ns, a.veth)
			p, err := ping(a.ns, b.ip, 10, replyTimeout(), deadlineIn(10))
			if err != nil {
				c.Fatal(err)
			}
			if p.received != 10 {
				c.Fatalf("ping %s -> %s: %d of 10 replies", a.ip, b.ip, p.received)
			}
			waitQuiet()
			req, rep := s.counts()
			t.Logf("%s: %s sees %d echo requests, %d echo replies", rc.name, a.veth, req, rep)
			if req < 10 {
				c.Errorf("%s saw %d echo requests, want 10", a.veth, req)
			}
			if rc.hostRouting && rep != 0 {
				c.Errorf("host routing: %s saw %d echo replies, want 0 (delivered by bpf_redirect_peer)", a.veth, rep)
			}
			if !rc.hostRouting && rep < 10 {
				c.Errorf("legacy routing: %s saw %d echo replies, want 10 (delivered through the stack)", a.veth, rep)
			}
		})
	}
}

// logCounters logs every node's datapath counters, forwards and drops,
// to explain a failure.
func (tp *topology) logCounters(t testing.TB) {
	t.Helper()
	for _, n := range tp.nodes {
		ldr := &node.Node{Dir: n.bpffs}
		m, err := ldr.PinnedMap(bpf.MapMetrics)
		if err != nil {
			t.Logf("%s: %v", n.name, err)
			continue
		}
		cs, err := node.Counters(m)
		m.Close()
		var lines []string
		for _, c := range cs {
			lines = append(lines, fmt.Sprintf("  %-24s %-19s %-8s %d", c.Reason, c.Hook, c.Dir, c.Packets))
		}
		t.Logf("%s counters (%v):\n%s", n.name, err, strings.Join(lines, "\n"))
	}
}
