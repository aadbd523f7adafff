package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/bpf/netnstest"
)

// The seeds' topology, from network namespaces: two nodes, each with pods
// behind lxc veths, an underlay bridge that the nodes' eth0 and an
// "outside" client (the world, a NodePort client) hang off, and for tunnel
// variants a collect-metadata vxlan device on each node.
//
//	pod 10.0.1.1 ─ lxc1 ┐                          ┌ lxc1 ─ pod 10.0.2.1
//	pod 10.0.1.2 ─ lxc2 ┤ node1 eth0 ── br0 ── eth0 node2 ┤
//	                     cilium_vxlan   │   cilium_vxlan
//	                                 outside 192.168.56.200
//
// Every namespace is anonymous and owned by one locked OS thread: nothing
// has a name that could collide with another test or leak, and when the
// thread exits the namespace goes, with every device, route, qdisc and TCX
// link in it. Forwarding is enabled inside the node namespaces only. A
// Geneve variant gets a collect-metadata geneve device (cilium_geneve,
// port 6081) in place of the vxlan one.

// nsThread is a network namespace of the test's own.
type nsThread = netnstest.NS

func newNSThread(t testing.TB, name string) *nsThread { return netnstest.New(t, name) }

type e2ePod struct {
	ns       *nsThread
	ip       netip.Addr
	veth     string // host side, in the node
	mac      net.HardwareAddr
	id       uint16
	identity uint32
}

type e2eNode struct {
	name   string
	ns     *nsThread
	ip     netip.Addr
	cidr   netip.Prefix
	pods   []*e2ePod
	bpffs  string
	runDir string
	// overlay is the node's tunnel device, "" in native routing.
	overlay string
	devices []string
	// mode is how dpload attached the datapath: tcx or tc.
	mode node.AttachMode
}

type topology struct {
	t       testing.TB
	wire    *nsThread
	outside *nsThread
	outIP   netip.Addr
	nodes   [2]*e2eNode
	tunnel  bool
}

const (
	identityPodBase = 1001
	vxlanDevice     = "cilium_vxlan"
	geneveDevice    = "cilium_geneve"
)

// Overlays of a topology: none (native routing), VXLAN or Geneve.
const (
	overlayNone   = ""
	overlayVXLAN  = "vxlan"
	overlayGeneve = "geneve"
)

// overlayDevices are the collect-metadata tunnel devices Cilium creates,
// with its default ports (8472 for VXLAN, 6081 for Geneve).
var overlayDevices = map[string]struct {
	name, add string
	port      uint16
}{
	overlayVXLAN:  {vxlanDevice, "link add " + vxlanDevice + " type vxlan external dstport 8472", 8472},
	overlayGeneve: {geneveDevice, "link add " + geneveDevice + " type geneve external dstport 6081", 6081},
}

// vxlanIf is the overlay of a topology that tunnels or not, with VXLAN.
func vxlanIf(tunnel bool) string {
	if tunnel {
		return overlayVXLAN
	}
	return overlayNone
}

// mountBPFFS mounts a fresh bpffs in a temporary directory for the test:
// `ip netns exec`-style remounts of /sys never see it, and nothing is
// left under /sys/fs/bpf.
func mountBPFFS(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("bpffs", dir, "bpf", 0, "mode=0700"); err != nil {
		t.Fatalf("mounting a bpffs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting bpffs %s: %v", dir, err)
		}
	})
	return dir
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED (not root): the netns traffic suite creates namespaces, loads and attaches BPF programs; run `make test` as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip(8) from iproute2 is needed to build the test's namespaces: %v", err)
	}
}

// newTopology builds two nodes with podsPerNode pods each, with overlay
// devices of the given kind (overlayNone, overlayVXLAN, overlayGeneve).
func newTopology(t testing.TB, overlay string, podsPerNode [2]int) *topology {
	t.Helper()
	requireRoot(t)
	bpffs := mountBPFFS(t)
	runDir := t.TempDir()
	tunnel := overlay != overlayNone
	tp := &topology{t: t, tunnel: tunnel, outIP: netip.MustParseAddr("192.168.56.200")}
	tp.wire = newNSThread(t, "wire")
	if err := tp.wire.IP("link add br0 type bridge", "link set br0 up"); err != nil {
		t.Fatal(err)
	}
	// plug connects ns's eth0 to the bridge.
	plug := func(ns *nsThread, port string, addr netip.Addr) {
		t.Helper()
		err := tp.wire.IP(fmt.Sprintf("link add %s type veth peer name eth0 netns %d", port, ns.TID),
			"link set "+port+" master br0", "link set "+port+" up")
		if err == nil {
			err = ns.IP("addr add "+addr.String()+"/24 dev eth0", "link set eth0 up")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tp.outside = newNSThread(t, "outside")
	plug(tp.outside, "out", tp.outIP)

	for i := range tp.nodes {
		n := &e2eNode{
			name:    fmt.Sprintf("node%d", i+1),
			ip:      netip.AddrFrom4([4]byte{192, 168, 56, byte(101 + i)}),
			cidr:    netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i+1)),
			bpffs:   filepath.Join(bpffs, fmt.Sprintf("node%d", i+1)),
			runDir:  filepath.Join(runDir, fmt.Sprintf("node%d", i+1)),
			devices: []string{"eth0"},
		}
		tp.nodes[i] = n
		n.ns = newNSThread(t, n.name)
		plug(n.ns, fmt.Sprintf("n%d", i+1), n.ip)
		if err := n.ns.Sysctl("net/ipv4/ip_forward", "1", "net/ipv4/conf/all/rp_filter", "0", "net/ipv4/conf/default/rp_filter", "0"); err != nil {
			t.Fatal(err)
		}
		if tunnel {
			dev, ok := overlayDevices[overlay]
			if !ok {
				t.Fatalf("unknown overlay %q", overlay)
			}
			if err := n.ns.IP(dev.add, "link set "+dev.name+" up"); err != nil {
				t.Fatal(err)
			}
			n.overlay = dev.name
		}
		for j := 0; j < podsPerNode[i]; j++ {
			n.addPod(t, j)
		}
	}
	// Native routing: each node routes the other's pod CIDR to it.
	for i, n := range tp.nodes {
		other := tp.nodes[1-i]
		if err := n.ns.IP("route add " + other.cidr.String() + " via " + other.ip.String() + " dev eth0"); err != nil {
			t.Fatal(err)
		}
	}
	return tp
}

// addPod puts pod j behind lxc(j+1), Cilium-style: a /32 on the pod's eth0,
// a default route via a link-local gateway whose MAC is the host-side
// veth's; the node routes the /32 to the lxc for legacy routing.
func (n *e2eNode) addPod(t testing.TB, j int) *e2ePod {
	t.Helper()
	ns := n.ns
	p := &e2ePod{
		ns:       newNSThread(t, fmt.Sprintf("%s-pod%d", n.name, j+1)),
		ip:       n.cidr.Addr().Next(),
		veth:     fmt.Sprintf("lxc%d", j+1),
		id:       uint16(j + 1),
		identity: uint32(identityPodBase + 100*int(n.cidr.Addr().As4()[2]) + j),
	}
	for range j {
		p.ip = p.ip.Next()
	}
	if err := ns.IP(fmt.Sprintf("link add %s type veth peer name eth0 netns %d", p.veth, p.ns.TID), "link set "+p.veth+" up"); err != nil {
		t.Fatal(err)
	}
	_, lxcMAC, err := ns.Link(p.veth)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ns.IP("link set eth0 up",
		"addr add "+p.ip.String()+"/32 dev eth0",
		"route add 169.254.1.1 dev eth0 scope link",
		"route add default via 169.254.1.1 dev eth0",
		"neigh add 169.254.1.1 lladdr "+lxcMAC.String()+" dev eth0 nud permanent")
	if err != nil {
		t.Fatal(err)
	}
	if _, p.mac, err = p.ns.Link("eth0"); err != nil {
		t.Fatal(err)
	}
	if err := ns.IP("route add "+p.ip.String()+"/32 dev "+p.veth,
		"neigh add "+p.ip.String()+" lladdr "+p.mac.String()+" dev "+p.veth+" nud permanent"); err != nil {
		t.Fatal(err)
	}
	n.pods = append(n.pods, p)
	return p
}

// state is the node's datapath state: its own pods as endpoints, every
// pod and node of the cluster in the ipcache (remote pods behind their
// node's tunnel endpoint in tunnel mode), plus extra.
func (tp *topology) state(n *e2eNode, extra node.State) node.State {
	st := extra
	st.Host = &node.Host{IP: n.ip.String()}
	for _, p := range n.pods {
		st.Endpoints = append(st.Endpoints, node.Endpoint{IP: p.ip.String(), Veth: p.veth, MAC: p.mac.String(), ID: p.id, Identity: p.identity})
	}
	for _, other := range tp.nodes {
		if other == n {
			continue
		}
		st.IPCache = append(st.IPCache, node.IPCacheEntry{Prefix: other.ip.String() + "/32", Identity: 6})
		for _, p := range other.pods {
			e := node.IPCacheEntry{Prefix: p.ip.String() + "/32", Identity: p.identity}
			if tp.tunnel {
				e.TunnelEndpoint = other.ip.String()
			}
			st.IPCache = append(st.IPCache, e)
		}
	}
	return st
}

// dpload runs the command in-process on the node's thread, with the
// node's bpffs and run directories.
func (n *e2eNode) dpload(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	args = append(args, "--bpffs", n.bpffs, "--run-dir", n.runDir)
	var code int
	n.ns.Do(func() error { code = run(args, &stdout, &stderr); return nil })
	if code != 0 {
		return stdout.String(), fmt.Errorf("%s: dpload %s: exit %d: %s", n.name, strings.Join(args, " "), code, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// attach attaches the node's datapath from build and cleans it up (dpload
// detach) when the test ends.
func (n *e2eNode) attach(t testing.TB, build, name string, extra ...string) {
	t.Helper()
	args := []string{"attach", "--node", name, "--devices", strings.Join(n.devices, ","), "--build", build, "-o", "json"}
	if n.overlay != "" {
		args = append(args, "--tunnel-device", n.overlay)
	}
	args = append(args, extra...)
	out, err := n.dpload(args...)
	if err != nil {
		skipIfKernelRefuses(t, err)
		t.Fatal(err)
	}
	var res attachResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Record == nil {
		t.Fatalf("%s: dpload attach -o json: %v: %q", n.name, err, out)
	}
	n.mode = res.Record.Mode
	t.Cleanup(func() {
		if _, err := n.dpload("detach"); err != nil && !errors.Is(err, node.ErrNotAttached) && !strings.Contains(err.Error(), "nothing is attached") {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// apply writes st to a file and runs dpload state apply.
func (n *e2eNode) apply(t testing.TB, st node.State) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), n.name+"-state.yaml")
	writeState(t, file, st)
	out, err := n.dpload("state", "apply", file)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeState(t testing.TB, file string, st node.State) {
	t.Helper()
	data, err := yaml.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
