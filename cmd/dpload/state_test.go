package main

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader/node"
)

// TestStateApplyChurn: an endpoint that leaves the state loses its
// programs and its map entries, one that comes gets them, and applying
// the same state twice changes nothing.
func TestStateApplyChurn(t *testing.T) {
	tp := setup(t, routingCases[2], [2]int{2, 1}, nil)
	n1 := tp.nodes[0]
	a, b := n1.pods[0], n1.pods[1]
	full := tp.state(n1, node.State{})
	if out := n1.apply(t, full); !strings.Contains(out, "0 added, 0 updated, 0 removed") {
		t.Errorf("applying the same state again: %s", out)
	}
	// b leaves.
	without := full
	without.Endpoints = full.Endpoints[:1]
	out := n1.apply(t, without)
	if !strings.Contains(out, `detached ["lxc2"]`) || !strings.Contains(out, "1 removed") {
		t.Errorf("b leaving: %s", out)
	}
	if left := n1.hooksOn(t, b.veth); len(left) != 0 {
		t.Errorf("%s still has %q after its endpoint left", b.veth, left)
	}
	if keys := n1.mapKeys(t, bpf.MapEndpoints); len(keys) != 2 { // a and the host
		t.Errorf("dp_endpoints has %d entries, want 2", len(keys))
	}
	udpEcho(t, b.ns, netip.AddrPortFrom(b.ip, podUDP))
	// b comes back.
	out = n1.apply(t, full)
	if !strings.Contains(out, `attached ["lxc2"]`) {
		t.Errorf("b coming back: %s", out)
	}
	if hooks := n1.hooksOn(t, b.veth); len(hooks) != 2 {
		t.Errorf("%s has %q, want the two endpoint programs", b.veth, hooks)
	}
	if err := udpExchange(a.ns, netip.AddrPortFrom(b.ip, podUDP)); err != nil {
		t.Errorf("after b came back: %v", err)
	}
	st, err := n1.dpload("status")
	if err != nil || bytes.Count([]byte(st), []byte("NOT ATTACHED")) != 0 {
		t.Errorf("status: %v\n%s", err, st)
	}
}

// TestUsage: exit codes and messages of the command line without a node.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: dpload"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"attach", "--node", "x"}, exitUsage, "--devices is required"},
		{[]string{"attach", "--devices", "eth0"}, exitUsage, "--node NAME, --variant ID or --auto is required"},
		{[]string{"attach", "--attach", "xdp", "--node", "x", "--devices", "eth0"}, exitUsage, `attach mode "xdp"`},
		{[]string{"status", "-o", "yaml"}, exitUsage, `-o "yaml"`},
		{[]string{"status", "--bogus"}, exitUsage, "unknown flag: --bogus\nusage: dpload status"},
		{[]string{"status", "--run-dir", dir}, exitProblems, "nothing is attached"},
		{[]string{"detach", "--run-dir", dir}, exitProblems, "nothing is attached"},
		{[]string{"state", "apply"}, exitUsage, "want: state apply FILE"},
		{[]string{"map", "list"}, exitUsage, "want: map list NAME"},
		{[]string{"attach", "--help"}, exitOK, "example:"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("dpload %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.want)
		}
	}
}

// TestReplaceMigrates: a replace that changes a map's size copies the
// pinned map's entries into one of the new size, and traffic goes on.
func TestReplaceMigrates(t *testing.T) {
	tp := setup(t, routingCases[2], [2]int{1, 1}, nil)
	n1, a, c := tp.nodes[0], tp.nodes[0].pods[0], tp.nodes[1].pods[0]
	udpEcho(t, c.ns, netip.AddrPortFrom(c.ip, podUDP))
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err != nil {
		t.Fatal(err)
	}
	before := n1.mapKeys(t, bpf.MapConntrack)
	out, err := n1.dpload("replace", "--build", buildDir(t), "--map-max", "dp_conntrack=131072")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "migrated maps: dp_conntrack") {
		t.Errorf("replace: %s, want dp_conntrack migrated", out)
	}
	after := n1.mapKeys(t, bpf.MapConntrack)
	for k := range before {
		if !after[k] {
			t.Errorf("a conntrack entry was lost in the migration")
			break
		}
	}
	st, err := n1.dpload("status")
	if err != nil || !strings.Contains(st, "/131072") {
		t.Errorf("status after the migration: %v\n%s", err, st)
	}
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err != nil {
		t.Errorf("after the migration: %v", err)
	}
	// A second replace keeps the size (the record remembers it): nothing
	// to migrate.
	if out, err := n1.dpload("replace", "--build", buildDir(t)); err != nil || strings.Contains(out, "migrated") {
		t.Errorf("second replace: %v: %s", err, out)
	}
}

// TestStatePolicy: policy from the state file decides real traffic: an
// endpoint that enforces ingress drops what no entry allows, an allow
// entry for the sender's identity and port lets it in, and only on that
// port. A state naming a veth that does not exist is refused before any
// map changes.
func TestStatePolicy(t *testing.T) {
	tp := setup(t, routingCases[2], [2]int{1, 1}, nil)
	n2, a, c := tp.nodes[1], tp.nodes[0].pods[0], tp.nodes[1].pods[0]
	udpEcho(t, c.ns, netip.AddrPortFrom(c.ip, podUDP))
	udpEcho(t, c.ns, netip.AddrPortFrom(c.ip, podUDP+10))
	enforced := tp.state(n2, node.State{})
	enforced.Endpoints[0].EnforceIngress = true
	n2.apply(t, enforced)
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err == nil {
		t.Error("enforcing ingress without an allow entry: traffic passed")
	}
	allowed := enforced
	allowed.Policy = []node.PolicyRule{{Subject: c.identity, Direction: "ingress", Remote: a.identity, Port: podUDP, Protocol: "udp"}}
	n2.apply(t, allowed)
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP)); err != nil {
		t.Errorf("allowed by identity and port: %v", err)
	}
	if err := udpExchange(a.ns, netip.AddrPortFrom(c.ip, podUDP+10)); err == nil {
		t.Error("another port than the allowed one passed")
	}
	drops, err := n2.dpload("status")
	if err != nil || !strings.Contains(drops, "DROP_POLICY_DENIED") {
		t.Errorf("status does not count the policy drops: %v\n%s", err, drops)
	}

	before := n2.mapKeys(t, bpf.MapPolicy)
	broken := allowed
	broken.Policy = nil
	broken.Endpoints = append(slices.Clone(broken.Endpoints), node.Endpoint{IP: "10.0.2.99", Veth: "nosuch0", MAC: "02:00:00:00:00:99", ID: 99, Identity: 9999})
	file := t.TempDir() + "/broken.yaml"
	writeState(t, file, broken)
	if _, err := n2.dpload("state", "apply", file); err == nil || !strings.Contains(err.Error(), `"nosuch0"`) {
		t.Errorf("a state with a missing veth: %v, want an error naming it", err)
	}
	if after := n2.mapKeys(t, bpf.MapPolicy); len(after) != len(before) {
		t.Errorf("the refused state changed the policy map: %d entries, were %d", len(after), len(before))
	}
}
