package bpf

import (
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// inNetns runs fn on an OS thread moved to a new network namespace. The
// thread stays locked and is discarded when fn returns.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// netnsSetup runs ip(8) commands; they inherit the calling thread's netns.
func netnsSetup(t *testing.T, cmds ...string) bool {
	t.Helper()
	for _, c := range cmds {
		out, err := exec.Command("ip", strings.Fields(c)...).CombinedOutput()
		if err != nil {
			t.Errorf("ip %s: %v: %s", c, err, out)
			return false
		}
	}
	return true
}

// inRoutedNetns runs fn in a new network namespace set up by the ip(8)
// commands cmds, with forwarding on (bpf_fib_lookup checks it on the input
// device, lo for BPF_PROG_TEST_RUN). It fails without ip(8).
func inRoutedNetns(t *testing.T, cmds []string, fn func()) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip(8) from iproute2 is needed to build the test's routing table (make deps installs it): %v", err)
	}
	inNetns(t, func() {
		if !netnsSetup(t, cmds...) {
			return
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/forwarding", []byte("1"), 0o644); err != nil {
			t.Errorf("enabling forwarding: %v", err)
			return
		}
		fn()
	})
}

// TestSmokeHostRoutingFIB drives fib_redirect4 against a real routing
// table: a resolved neighbour, an unresolved one, and an unreachable route.
func TestSmokeHostRoutingFIB(t *testing.T) {
	coll := newCollection(t, variantByName(t, "host-routing"), nil)
	addEndpoints(t, coll)
	gwMAC := [6]byte{0x02, 0, 0, 0, 0x50, 0x02}
	inRoutedNetns(t, []string{
		"link set lo up",
		"link add dp0 address 02:00:00:00:50:01 type veth peer name dp1",
		"addr add 192.168.50.1/24 dev dp0",
		"link set dp1 up",
		"link set dp0 up",
		"neigh add 192.168.50.2 lladdr 02:00:00:00:50:02 dev dp0 nud permanent",
		"route add unreachable 10.99.0.0/16",
	}, func() {
		frame := func(dst string) []byte {
			return ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr(dst), 64, nil, tcpSeg{40000, 80, 0x02}, nil)
		}
		ret, out := run(t, coll, ProgFromContainer, frame("192.168.50.2"))
		p := parseIPv4L4(t, out)
		if ret != tcActRedirect || p.dmac != gwMAC || p.smac != [6]byte{0x02, 0, 0, 0, 0x50, 0x01} || p.ttl != 63 || !p.ipOK {
			t.Errorf("resolved neighbour: verdict %d, %x > %x ttl %d, want TC_ACT_REDIRECT with the FIB's MACs", ret, p.smac, p.dmac, p.ttl)
		}
		if ret, _ := run(t, coll, ProgFromContainer, frame("192.168.50.3")); ret != tcActRedirect {
			t.Errorf("unresolved neighbour: verdict %d, want TC_ACT_REDIRECT (bpf_redirect_neigh)", ret)
		}
		if ret, _ := run(t, coll, ProgFromContainer, frame("10.99.1.1")); ret != tcActShot ||
			metric(t, coll, DropFIBUnreachable, DirEgress, HookFromContainer) != 1 {
			t.Errorf("unreachable route: verdict %d, want TC_ACT_SHOT counted as DROP_FIB_UNREACHABLE", ret)
		}
	})
}
