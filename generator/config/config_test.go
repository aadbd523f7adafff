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

func lts() *KernelProfile {
	return &KernelProfile{Name: "5.10", Kernel: features.Kernel{Name: "5.10", Version: features.V(5, 10, 0)}, Target: features.LittleEndian}
}

func TestConfigMapStringValues(t *testing.T) {
	src := `apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config}
data:
  enable-bpf-masquerade: "true"
  enable-ipv6: "false"
  devices: "eth0 eth1"
  cluster-id: ""
  mtu: ""
`
	if !IsManifest([]byte(src)) {
		t.Fatal("not recognised as a manifest")
	}
	m, ds := ParseManifest("cm.yaml", []byte(src), ManifestInput{Kernel: lts()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	got := m.Nodes[0].Config.Values
	// Empty values are unset, as in Cilium.
	want := features.Config{"enable-bpf-masquerade": "true", "enable-ipv6": "false", "devices": "eth0,eth1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// A rendered manifest: the cilium-config ConfigMap among other objects, the
// release from the agent image's tag.
func TestRenderedManifest(t *testing.T) {
	src := `apiVersion: v1
kind: ServiceAccount
metadata: {name: cilium}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-envoy-config}
data: {x: y}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config}
data:
  routing-mode: native
  kvstore: ""
  identity-allocation-mode: crd
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cilium}
spec:
  template:
    spec:
      containers:
      - name: cilium-agent
        image: "quay.io/cilium/cilium:v1.15.6@sha256:6aa840986a3a9722cd967ef63248d675a87add7e1704740902d5d3162f0c0def"
`
	if !IsManifest([]byte(src)) {
		t.Fatal("not recognised as a manifest")
	}
	m, ds := ParseManifest("all.yaml", []byte(src), ManifestInput{Kernel: lts()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if m.Nodes[0].Name != "cilium-config" || m.Nodes[0].Config.Values["routing-mode"] != "native" {
		t.Errorf("wrong ConfigMap: %+v", m.Nodes[0])
	}
	if got := m.Defaults.Values[features.ReleaseOption]; got != "1.15" || !strings.Contains(m.ReleaseFrom, "v1.15.6") {
		t.Errorf("release %q from %q, want 1.15 from the image", got, m.ReleaseFrom)
	}
	// The flag wins over the image.
	m, _ = ParseManifest("all.yaml", []byte(src), ManifestInput{Kernel: lts(), Release: "1.14"})
	if got := m.Defaults.Values[features.ReleaseOption]; got != "1.14" {
		t.Errorf("release %q, want the flag's 1.14", got)
	}
	// Without a cilium-config ConfigMap the manifest is refused.
	_, ds = ParseManifest("x.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"), ManifestInput{Kernel: lts()})
	if !ds.HasErrors() || ds[0].Rule != diag.RuleManifest {
		t.Errorf("got %v", ds)
	}
	if IsManifest([]byte("nodes: []\n")) {
		t.Error("a matrix taken for a manifest")
	}
}

// Unknown keys: a typo of a known key gets a suggestion and a warning (the
// agent ignores it); keys of other Cilium releases are notes; neither is an
// error.
func TestUnknownOptions(t *testing.T) {
	src := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config}\ndata:\n  enable-bpf-masqurade: \"true\"\n  cluster-pool-ipv6-cidr: fd00::/104\n  enable-srv6: \"false\"\n  totally-made-up-key: x\n"
	_, ds := ParseManifest("cm.yaml", []byte(src), ManifestInput{Kernel: lts()})
	var got []string
	for _, d := range ds {
		got = append(got, string(d.Severity)+" "+d.Rule+" "+d.Message)
	}
	want := []string{
		`warning unknown-option unknown option "enable-bpf-masqurade": no Cilium release has it, and the agent ignores it; did you mean "enable-bpf-masquerade"?`,
		`info unmodeled-option option "cluster-pool-ipv6-cidr" is not modeled by dpforge; it takes no part in the checks`,
		`info unmodeled-option option "enable-srv6" is not modeled by dpforge; it takes no part in the checks`,
		`warning unknown-option unknown option "totally-made-up-key": no Cilium release has it, and the agent ignores it`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
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

// A node may name a distribution kernel directly; a profile of the same name
// wins.
func TestDistroKernelRef(t *testing.T) {
	m, ds := Parse("m.yaml", []byte("nodes: [{name: a, kernel: rhel8}, {name: b, kernel: rhel9}]\n"), nil)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	kp, _ := m.Kernel("rhel8")
	if ok, how := kp.Kernel.Has(features.CapRedirectPeer); !ok || !strings.Contains(how, "cilium/cilium#39789") {
		t.Errorf("rhel8: %v %s", ok, how)
	}
	m, _ = Parse("m.yaml", []byte("kernels: {rhel8: {version: 4.18.0}}\nnodes: [{name: a, kernel: rhel8}]\n"), nil)
	kp, _ = m.Kernel("rhel8")
	if ok, _ := kp.Kernel.Has(features.CapRedirectPeer); ok {
		t.Errorf("the profile rhel8 lost to the distribution kernel")
	}
}
