package node

import (
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
)

func pickManifest() *manifest.Manifest {
	m := &manifest.Manifest{
		Variants: []manifest.Variant{
			{ID: "hostrouting", CPU: "v3", Defines: map[string]string{"ENABLE_IPV4": "1", "ENABLE_NODEPORT": "1", "ENABLE_HOST_ROUTING": "1", "HAVE_RINGBUF": "1"}},
			{ID: "legacy", CPU: "v2", Defines: map[string]string{"ENABLE_IPV4": "1", "ENABLE_NODEPORT": "1"}},
			{ID: "minimal", CPU: "v2", Defines: map[string]string{"ENABLE_IPV4": "1"}},
			{ID: "tunnel", CPU: "v2", Defines: map[string]string{"ENABLE_IPV4": "1", "TUNNEL_MODE": "1", "HAVE_ENCAP": "1"}},
			{ID: "static", CPU: "v1", Defines: map[string]string{"ENABLE_IPV4": "1", "ENABLE_NODEPORT": "1", "DP_STATIC_CONFIG": "1", "MTU": "1450", "CLUSTER_ID": "0", "NODEPORT_PORT_MIN": "30000"}},
			{ID: "egressgw", CPU: "v2", Defines: map[string]string{"ENABLE_IPV4": "1", "ENABLE_NODEPORT": "1", "ENABLE_EGRESS_GATEWAY": "1", "HAVE_ENCAP": "1"}},
		},
		Nodes: []manifest.Node{{Name: "new", Variant: "hostrouting"}, {Name: "old", Variant: "legacy"}},
	}
	m.Normalize()
	return m
}

func kernelAt(t *testing.T, v string) features.Kernel {
	t.Helper()
	ver, err := features.ParseVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	return features.Kernel{Version: ver}
}

func TestPick(t *testing.T) {
	m := pickManifest()
	for _, tc := range []struct {
		node    string
		kernel  string
		auto    bool
		routing Routing
		want    string
		wantErr string
	}{
		{node: "new", kernel: "6.1.0", want: "hostrouting"},
		{node: "old", kernel: "6.1.0", want: "legacy"},
		// The node's own variant on a kernel that cannot run it: the error
		// names the capability and the feature that needs it.
		{node: "new", kernel: "5.4.0", wantErr: "host-routing needs helper:bpf_redirect_peer"},
		{node: "new", kernel: "4.19.0", wantErr: "needs isa:v3"},
		// --auto: the most features the kernel runs.
		{kernel: "6.1.0", auto: true, want: "hostrouting"},
		{kernel: "5.4.0", auto: true, want: "legacy"},
		{kernel: "6.1.0", auto: true, routing: Routing{Tunnel: true, Overlay: true}, want: "tunnel"},
		// Native routing with an overlay device: the egress gateway's
		// variant (more features than hostrouting on 5.4); without the
		// device it cannot run.
		{kernel: "5.4.0", auto: true, routing: Routing{Overlay: true}, want: "egressgw"},
		{kernel: "5.4.0", auto: true, want: "legacy"},
		{kernel: "6.1.0", auto: true, routing: Routing{Tunnel: true}, wantErr: "no tunnel variant of the build runs"},
		{kernel: "4.9.0", auto: true, wantErr: "no native-routing variant of the build runs on kernel"},
		{node: "nosuch", kernel: "6.1.0", wantErr: `node "nosuch" is not in the manifest`},
	} {
		c, err := Pick(m, tc.node, kernelAt(t, tc.kernel), tc.auto, tc.routing)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Pick(%q, %s, auto=%v): error %v, want one containing %q", tc.node, tc.kernel, tc.auto, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.Variant != tc.want {
			t.Errorf("Pick(%q, %s, auto=%v) = %q, %v; want %q", tc.node, tc.kernel, tc.auto, c.Variant, err, tc.want)
			continue
		}
		if c.Reason == "" {
			t.Errorf("Pick(%q, %s, auto=%v): no reason", tc.node, tc.kernel, tc.auto)
		}
	}
}

func TestParseState(t *testing.T) {
	good := `
endpoints:
  - {ip: 10.0.1.1, veth: lxc1, mac: "02:00:00:00:00:01", id: 1, identity: 1001}
ipcache:
  - {prefix: 10.0.2.0/24, identity: 1201, tunnel-endpoint: 192.168.56.102}
services:
  - {id: 1, frontend: "10.96.0.10:80", protocol: tcp, backends: ["10.0.1.1:8080", "10.0.2.1:8080"]}
policy:
  - {subject: 1001, direction: ingress, remote: 1201, port: 80, protocol: tcp}
egress-gateway:
  - {source: 10.0.1.1, destination: 0.0.0.0/0, gateway: 192.168.56.102}
bandwidth:
  - {endpoint: 1, rate: 10000000}
non-masquerade: [10.0.0.0/8]
`
	st, err := ParseState([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	dev := func(string) (uint32, [6]byte, error) { return 7, [6]byte{2, 0, 0, 0, 0, 9}, nil }
	want, err := st.Desired(dev)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for name, e := range want {
		counts[name] = len(e)
	}
	for name, n := range map[string]int{"dp_endpoints": 1, "dp_ipcache": 1, "dp_services": 3, "dp_backends": 2, "dp_revnat": 1,
		"dp_policy": 1, "dp_egress_gw": 1, "dp_throttle": 1, "dp_nonmasq": 1, "dp_vtep": 0} {
		if counts[name] != n {
			t.Errorf("%s: %d entries, want %d", name, counts[name], n)
		}
	}
	if _, err := ParseState(nil); err != nil {
		t.Errorf("empty state: %v", err)
	}
	for _, bad := range []struct{ in, want string }{
		{"endpoint: []", "field endpoint not found"},
		{"endpoints: [{ip: 10.0.1, veth: lxc1, mac: 02:00:00:00:00:01}]", `endpoint ip "10.0.1": not an IPv4 address`},
		{"services: [{id: 1, frontend: 10.96.0.10, protocol: tcp}]", "want IPV4:PORT"},
		{"services: [{id: 1, frontend: '10.96.0.10:80', protocol: sctp}]", "want tcp or udp"},
		{"services: [{id: 1, frontend: '10.96.0.10:80', protocol: tcp}, {id: 1, frontend: '10.96.0.11:80', protocol: tcp}]", "id 1 is used twice"},
		{"policy: [{subject: 1, direction: sideways}]", "want ingress or egress"},
	} {
		st, err := ParseState([]byte(bad.in))
		if err == nil {
			_, err = st.Desired(dev)
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one containing %q", bad.in, err, bad.want)
		}
	}
}
