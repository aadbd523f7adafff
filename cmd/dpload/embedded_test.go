package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf/loader/node"
)

// TestEmbeddedLoader runs a real dpload binary with the build appended
// (what `dpforge build` writes as DIR/dpload) on both nodes, without
// --build: it attaches from its own embedded build, carries traffic, and
// detaches leaving nothing.
func TestEmbeddedLoader(t *testing.T) {
	requireRoot(t)
	build := buildDir(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "dpload-plain")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", plain, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	var bundle bytes.Buffer
	if err := node.WriteBundle(&bundle, exe, build); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dpload")
	if err := os.WriteFile(bin, bundle.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("dpload with the default matrix's build embedded: %d bytes (%d of them the build)", bundle.Len(), bundle.Len()-len(exe))

	tp := newTopology(t, overlayNone, [2]int{1, 1})
	// exe runs the binary on the node's thread, so in its namespace.
	exeOn := func(n *e2eNode, args ...string) (string, error) {
		var out []byte
		var err error
		n.ns.Do(func() error {
			out, err = exec.Command(bin, append(args, "--bpffs", n.bpffs, "--run-dir", n.runDir)...).CombinedOutput()
			return nil
		})
		if err != nil {
			return string(out), fmt.Errorf("%s: dpload %s: %v: %s", n.name, strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	for _, n := range tp.nodes {
		out, err := exeOn(n, "attach", "--node", "native-dsr", "--devices", "eth0", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { exeOn(n, "detach") })
		var res struct{ Record node.Record }
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("attach -o json: %v: %s", err, out)
		}
		if res.Record.Source != "embedded" {
			t.Errorf("%s: the build came from %q, want the embedded one", n.name, res.Record.Source)
		}
		state := filepath.Join(dir, n.name+".yaml")
		writeState(t, state, tp.state(n, node.State{}))
		if _, err := exeOn(n, "state", "apply", state); err != nil {
			t.Fatal(err)
		}
	}
	a, c := tp.nodes[0].pods[0], tp.nodes[1].pods[0]
	udpEcho(t, c.ns, netip.AddrPortFrom(c.ip, podUDP))
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err != nil {
		t.Error(err)
	}
	// A newer loader running attach again on the same devices takes over
	// without a gap, as replace does; the endpoints stay attached.
	out, err := exeOn(tp.nodes[0], "attach", "--node", "native-dsr", "--devices", "eth0")
	if err != nil || !strings.Contains(out, "replaced variant") {
		t.Errorf("attach over an attached node: %v: %s", err, out)
	}
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err != nil {
		t.Errorf("after the second attach: %v", err)
	}
	for _, n := range tp.nodes {
		if _, err := exeOn(n, "detach"); err != nil {
			t.Fatal(err)
		}
		if files, _ := os.ReadDir(n.runDir); len(files) != 0 {
			t.Errorf("%s: left in the run directory after detach: %v", n.name, files)
		}
		if s := n.snapshot(t); s.Record != nil || len(s.Pins) != 0 {
			t.Errorf("%s: left behind after detach: record %v, pins %q", n.name, s.Record != nil, s.Pins)
		}
		for _, dev := range []string{"eth0", "lxc1"} {
			if left := n.hooksOn(t, dev); len(left) > 0 {
				t.Errorf("%s: left on %s after detach: %q", n.name, dev, left)
			}
		}
	}
}
