package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
)

func rules(ds diag.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Pos.String()+" "+d.Rule)
	}
	return out
}

func TestParseCollectsEveryProblemWithPositions(t *testing.T) {
	src := `kernels:
  lts: {version: 5.10.0}
defaults:
  tunel: vxlan
  mtu: [1]
nodes:
  - {name: a, kernel: lts}
  - {name: a, kernel: lts}
  - {name: b, kernel: "9.99.99999"}
`
	_, ds := Parse("m.yaml", []byte(src), nil)
	want := []string{
		"m.yaml:4:3 unknown-option",
		"m.yaml:5:8 wrong-type",
		"m.yaml:8:12 duplicate-node",
		"m.yaml:9:23 invalid-version",
	}
	if diff := cmp.Diff(want, rules(ds)); diff != "" {
		t.Fatalf("(-want +got):\n%s\n%v", diff, ds)
	}
}

func TestConfigMapStringValues(t *testing.T) {
	src := `apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config}
data:
  enable-bpf-masquerade: "true"
  enable-ipv6: "false"
  devices: "eth0 eth1"
`
	if !IsConfigMap([]byte(src)) {
		t.Fatal("not recognised as a ConfigMap")
	}
	m, ds := ParseConfigMap("cm.yaml", []byte(src), features.V(5, 10, 0))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	got := m.Nodes[0].Config.Values
	want := features.Config{"enable-bpf-masquerade": "true", "enable-ipv6": "false", "devices": "eth0,eth1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestListOptionsAcceptYAMLLists(t *testing.T) {
	m, ds := Parse("m.yaml", []byte("nodes: [{name: a, kernel: 5.10.0, config: {devices: [eth0, eth1]}}]\n"), nil)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if got := m.Nodes[0].Config.Values["devices"]; got != "eth0,eth1" {
		t.Fatalf("devices = %q", got)
	}
}

func TestOversizedInput(t *testing.T) {
	big := "# " + strings.Repeat("x", MaxFileSize) + "\n"
	m, ds := Parse("big.yaml", []byte(big), nil)
	if m != nil || len(ds) != 1 || ds[0].Rule != "file-too-large" {
		t.Fatalf("got %v, %v", m, ds)
	}
}

func TestSafePath(t *testing.T) {
	for p, want := range map[string]bool{"probes/a.yaml": true, "a.yaml": true, "../a.yaml": false, "/etc/passwd": false,
		"probes/../../x": false, "./a.yaml": false, "a b.yaml": false, "probes//a.yaml": false, "": false} {
		if got := safePath(p); got != want {
			t.Errorf("safePath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestMatrixCells(t *testing.T) {
	src := `kernels: {a: {version: 5.10.0}, b: {version: 6.1.0}}
matrix:
  kernel: [a, b]
  tunnel: [vxlan, disabled]
  exclude: [{kernel: a, tunnel: disabled}]
`
	m, ds := Parse("m.yaml", []byte(src), nil)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	cells, err := m.Cells()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cells {
		names = append(names, c.Name())
	}
	want := []string{"kernel=a,tunnel=vxlan", "kernel=b,tunnel=vxlan", "kernel=b,tunnel=disabled"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
