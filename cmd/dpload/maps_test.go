package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/bpf/manifest"
)

// TestMapListGet shows the ipcache and endpoint maps the way the seeds'
// `cilium bpf tunnel list` and `cilium map get cilium_ipcache` do, decoded
// through the object's BTF, and status in JSON.
func TestMapListGet(t *testing.T) {
	tp := setup(t, routingCases[0], [2]int{1, 1}, nil)
	n1, c := tp.nodes[0], tp.nodes[1].pods[0]
	out, err := n1.dpload("map", "list", "dp_ipcache")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dpload map list dp_ipcache:\n%s", out)
	want := fmt.Sprintf("%s/32", c.ip)
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, want+" ") {
			line = l
		}
	}
	for _, field := range []string{fmt.Sprintf("sec_id=%d", c.identity), "tunnel_ep=" + tp.nodes[1].ip.String()} {
		if !strings.Contains(line, field) {
			t.Errorf("map list: the entry of %s is %q, want it to contain %q", want, line, field)
		}
	}
	got, err := n1.dpload("map", "get", "dp_ipcache", c.ip.String(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []node.Entry
	if err := json.Unmarshal([]byte(got), &entries); err != nil || len(entries) != 1 || !strings.Contains(entries[0].Value, "tunnel_ep="+tp.nodes[1].ip.String()) {
		t.Errorf("map get dp_ipcache %s: %v %q", c.ip, err, got)
	}
	a := n1.pods[0]
	got, err = n1.dpload("map", "get", "dp_endpoints", a.ip.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "mac="+a.mac.String()) {
		t.Errorf("map get dp_endpoints %s: %q, want the pod's MAC %s", a.ip, got, a.mac)
	}
	if _, err := n1.dpload("map", "get", "dp_endpoints", "10.9.9.9"); err == nil || !strings.Contains(err.Error(), "no entry") {
		t.Errorf("map get of a missing key: %v, want a no-entry error", err)
	}
	if _, err := n1.dpload("map", "get", "dp_services", "nosuchfield=1"); err == nil || !strings.Contains(err.Error(), "no field") {
		t.Errorf("map get with a bad key: %v, want a no-field error", err)
	}

	js, err := n1.dpload("status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st node.Status
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	// eth0, cilium_vxlan and one lxc, both directions each.
	attached := 0
	for _, h := range st.Hooks {
		if h.Attached {
			attached++
		}
	}
	if attached != 6 || len(st.Hooks) != 6 {
		t.Errorf("status: %d of %d hooks attached, want 6 of 6", attached, len(st.Hooks))
	}
	// The node's table sizes (bpf-ct-global-*-max, bpf-nat-global-max)
	// from the manifest, not the object's defaults.
	m, err := manifest.Load(filepath.Join(buildDir(t), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	mn := slices.IndexFunc(m.Nodes, func(n manifest.Node) bool { return n.Name == routingCases[0].node })
	if mn < 0 || len(m.Nodes[mn].MapSizes) == 0 {
		t.Fatalf("the manifest has no map sizes for node %s", routingCases[0].node)
	}
	for name, size := range m.Nodes[mn].MapSizes {
		i := slices.IndexFunc(st.Maps, func(f node.MapFill) bool { return f.Name == name })
		if i < 0 {
			t.Errorf("status: no map %s", name)
		} else if st.Maps[i].MaxEntries != size {
			t.Errorf("status: map %s has %d entries max, want %d (the node's size)", name, st.Maps[i].MaxEntries, size)
		}
	}
}

// TestAttachAuto: --auto picks the variant with the most features this
// kernel runs, for the node's routing mode, and says why.
func TestAttachAuto(t *testing.T) {
	requireRoot(t)
	build := buildDir(t)
	for _, tc := range []struct {
		name            string
		tunnel, overlay bool
	}{
		{"native", false, false},
		{"tunnel", true, true},
		// Native routing with an overlay device (the egress gateway's):
		// variants that send through it become candidates.
		{"native-overlay", false, true},
	} {
		tunnel := tc.tunnel
		t.Run(tc.name, func(t *testing.T) {
			tp := newTopology(t, vxlanIf(tc.overlay), [2]int{1, 0})
			n := tp.nodes[0]
			args := []string{"attach", "--auto", "--devices", "eth0", "--build", build, "-o", "json"}
			if tc.overlay {
				args = append(args, "--tunnel-device", vxlanDevice)
			}
			if tc.overlay && !tunnel {
				args = append(args, "--routing-mode", "native")
			}
			out, err := n.dpload(args...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.dpload("detach") })
			var res struct {
				Record node.Record
				Reason string
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			t.Logf("picked %s: %s", res.Record.Variant, res.Reason)
			m, err := node.OpenBuild(build)
			if err != nil {
				t.Fatal(err)
			}
			fits := func(v *manifest.Variant) bool {
				_, tm := v.Defines["TUNNEL_MODE"]
				_, encap := v.Defines["HAVE_ENCAP"]
				_, static := v.Defines["DP_STATIC_CONFIG"]
				return tm == tunnel && (!encap || tc.overlay) && !static
			}
			most := 0
			for i := range m.Manifest.Variants {
				if v := &m.Manifest.Variants[i]; fits(v) {
					most = max(most, len(v.Defines))
				}
			}
			got := m.Manifest.Variant(res.Record.Variant)
			if !fits(got) || len(got.Defines) != most || !strings.Contains(res.Reason, "most features") {
				t.Errorf("picked %s (%d defines, %v), want one with %d defines, tunnel %v, overlay device %v",
					got.ID, len(got.Defines), got.Defines, most, tunnel, tc.overlay)
			}
		})
	}
}
