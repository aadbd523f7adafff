package features

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/features/diag"
)

// TestLoadBalancingModel: Maglev and session affinity are compile-time
// features of the kube-proxy replacement; the Maglev table size, the SNAT
// port range above the NodePort range and the service loopback address are
// load-time values; the CT and NAT table sizes are per-node map sizes.
func TestLoadBalancingModel(t *testing.T) {
	cfg := Config{ReleaseOption: "1.17", "tunnel": "vxlan", "kube-proxy-replacement": "true", "bpf-lb-algorithm": "maglev",
		"bpf-lb-maglev-table-size": "4093", "enable-session-affinity": "true", "node-port-range": "30000,40000",
		"bpf-ct-global-tcp-max": "1048576", "bpf-nat-global-max": "2048"}
	r := Resolve(cfg, kernel("6.1.0"), "")
	if got := states(r, "maglev", "session-affinity"); !cmp.Equal(got, map[string]State{"maglev": Enabled, "session-affinity": Enabled}) {
		t.Errorf("states: %v", got)
	}
	defines := map[string]string{}
	for _, d := range r.Variant.Defines {
		defines[d.Name] = d.Value
	}
	if defines["LB_SELECTION"] != "2" || defines["ENABLE_SESSION_AFFINITY"] != "1" {
		t.Errorf("variant defines %v lack LB_SELECTION=2 and ENABLE_SESSION_AFFINITY", defines)
	}
	values := map[string]string{}
	for _, v := range r.Values {
		values[v.Var] = v.Value
	}
	for v, want := range map[string]string{"cfg_maglev_table_size": "4093", "cfg_snat_port_min": "40001",
		"cfg_snat_port_max": "65535", "cfg_loopback_ipv4": "169.254.42.1"} {
		if values[v] != want {
			t.Errorf("%s = %q, want %q", v, values[v], want)
		}
	}
	want := []MapSize{
		{Map: "dp_conntrack", Entries: 1048576 + 262144, Options: []string{"bpf-ct-global-tcp-max", "bpf-ct-global-any-max"}},
		{Map: "dp_snat", Entries: 2048, Options: []string{"bpf-nat-global-max"}},
	}
	if diff := cmp.Diff(want, r.MapSizes); diff != "" {
		t.Errorf("map sizes (-want +got):\n%s", diff)
	}

	// Both need the kube-proxy replacement; kube-proxy keeps affinity without it.
	r = Resolve(Config{ReleaseOption: "1.17", "kube-proxy-replacement": "false", "bpf-lb-algorithm": "maglev", "enable-session-affinity": "true"}, kernel("6.1.0"), "")
	if got := states(r, "maglev", "session-affinity"); got["maglev"] != Failed || got["session-affinity"] != Downgraded {
		t.Errorf("without KPR: %v, want maglev failed, session affinity downgraded", got)
	}

	// Session affinity by release: opt-in until 1.17, on by default in 1.18, always in 1.19.
	for _, tc := range []struct {
		release, option string
		want            State
	}{
		{"1.17", "", Disabled}, {"1.17", "true", Enabled},
		{"1.18", "", Enabled}, {"1.18", "false", Disabled},
		{"1.19", "", Enabled}, {"1.19", "false", Enabled},
	} {
		c := Config{ReleaseOption: tc.release, "tunnel": "vxlan", "kube-proxy-replacement": "true"}
		if tc.option != "" {
			c["enable-session-affinity"] = tc.option
		}
		if got := Resolve(c, kernel("6.1.0"), "").Decision("session-affinity").State; got != tc.want {
			t.Errorf("Cilium %s, enable-session-affinity=%q: %v, want %v", tc.release, tc.option, got, tc.want)
		}
	}
}

func TestMaglevTableSizeValidated(t *testing.T) {
	for _, tc := range []struct {
		size string
		ok   bool
	}{{"16381", true}, {"251", true}, {"131071", true}, {"16383", false}, {"1000", false}} {
		r := Resolve(Config{"kube-proxy-replacement": "true", "tunnel": "vxlan", "bpf-lb-algorithm": "maglev",
			"bpf-lb-maglev-table-size": tc.size}, kernel("6.1.0"), "")
		bad := false
		for _, p := range r.Problems {
			if p.Option == "bpf-lb-maglev-table-size" && p.Severity == diag.Error {
				bad = true
			}
		}
		if bad == tc.ok {
			t.Errorf("table size %s: error reported %v, want %v", tc.size, bad, !tc.ok)
		}
	}
}
