package features

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func kernel(v string) Kernel { return Kernel{Name: v, Version: MustVersion(v)} }

func states(r *Resolution, names ...string) map[string]State {
	m := map[string]State{}
	for _, n := range names {
		m[n] = r.Decision(n).State
	}
	return m
}

func TestResolveSeedScenarios(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		kernel string
		want   map[string]State
		errors []string // rules of error problems
	}{
		{
			// Seed 000: Cilium on 4.19.232 without KPR: legacy routing,
			// iptables masquerading, no bandwidth manager, no BIG TCP.
			name: "seed-4.19.232", kernel: "4.19.232",
			cfg: Config{"kube-proxy-replacement": "disabled", "enable-bandwidth-manager": "true"},
			want: map[string]State{"host-routing": Downgraded, "bandwidth-manager": Downgraded, "nodeport": Disabled,
				"bpf-masquerade-ipv4": Disabled, "masquerade-ipv4": Enabled, "ipv6-big-tcp": Disabled, "events-ringbuf": Downgraded},
		},
		{
			name: "vxlan-strict-bpf-masq", kernel: "5.10.0",
			cfg:  Config{"tunnel": "vxlan", "kube-proxy-replacement": "strict", "enable-bpf-masquerade": "true"},
			want: map[string]State{"host-routing": Enabled, "nodeport": Enabled, "bpf-masquerade-ipv4": Enabled, "tunnel-vxlan": Enabled},
		},
		{
			name: "native-dsr", kernel: "6.1.0",
			cfg: Config{"tunnel": "disabled", "kube-proxy-replacement": "true", "bpf-lb-mode": "dsr",
				"ipv4-native-routing-cidr": "10.0.0.0/8", "enable-bpf-masquerade": "true"},
			want: map[string]State{"dsr": Enabled, "dsr-hybrid": Disabled, "host-routing": Enabled},
		},
		{
			name: "dsr-vxlan", kernel: "6.1.0",
			cfg:    Config{"tunnel": "vxlan", "kube-proxy-replacement": "true", "bpf-lb-mode": "dsr"},
			want:   map[string]State{"dsr": Failed},
			errors: []string{"conflict"},
		},
		{
			name: "native-without-cidr", kernel: "6.1.0",
			cfg:    Config{"routing-mode": "native", "kube-proxy-replacement": "true"},
			want:   map[string]State{"masquerade-ipv4": Failed},
			errors: []string{"missing-option"},
		},
		{
			name: "egress-gateway-l7", kernel: "5.10.0",
			cfg:    Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ipv4-egress-gateway": "true"},
			want:   map[string]State{"egress-gateway": Failed},
			errors: []string{"conflict"},
		},
		{
			name: "egress-gateway-ok", kernel: "5.10.0",
			cfg:  Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ipv4-egress-gateway": "true", "enable-l7-proxy": "false"},
			want: map[string]State{"egress-gateway": Enabled},
		},
		{
			name: "strict-old-kernel-fails", kernel: "4.9.0",
			cfg:    Config{"kube-proxy-replacement": "strict"},
			want:   map[string]State{"nodeport": Failed, "host-routing": Downgraded},
			errors: []string{"kernel-too-old"},
		},
		{
			name: "probe-old-kernel-degrades", kernel: "4.9.0",
			cfg:  Config{"kube-proxy-replacement": "probe"},
			want: map[string]State{"nodeport": Downgraded, "host-routing": Downgraded},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Resolve(tc.cfg, kernel(tc.kernel), "")
			names := make([]string, 0, len(tc.want))
			for n := range tc.want {
				names = append(names, n)
			}
			if diff := cmp.Diff(tc.want, states(r, names...)); diff != "" {
				t.Errorf("states (-want +got):\n%s\nproblems: %+v", diff, r.Problems)
			}
			var errs []string
			for _, p := range r.Problems {
				if p.Severity == Error {
					errs = append(errs, p.Rule)
				}
			}
			if diff := cmp.Diff(tc.errors, errs); diff != "" {
				t.Errorf("error rules (-want +got):\n%s\nproblems: %+v", diff, r.Problems)
			}
		})
	}
}

func TestResolveIsPureAndStable(t *testing.T) {
	cfg := Config{"tunnel": "geneve", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}
	a := Resolve(cfg, kernel("6.1.0"), "")
	b := Resolve(cfg, kernel("6.1.0"), "")
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two resolutions differ:\n%s", diff)
	}
	if len(a.Variant.ID) != 12 {
		t.Errorf("variant id %q: want 12 hex digits", a.Variant.ID)
	}
	// Load-time values do not change the variant.
	c := Resolve(cfg.Merge(Config{"mtu": "9000", "cluster-id": "0"}), kernel("6.1.0"), "")
	if c.Variant.ID != a.Variant.ID {
		t.Errorf("mtu changed the variant: %s vs %s", c.Variant.ID, a.Variant.ID)
	}
	// Byte order does.
	d := Resolve(cfg, kernel("6.1.0"), BigEndian)
	if d.Variant.ID == a.Variant.ID {
		t.Errorf("big-endian variant shares id %s", d.Variant.ID)
	}
}

func TestHostRoutingReasonNamesKernel(t *testing.T) {
	r := Resolve(Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}, kernel("5.4.0"), "")
	d := r.Decision("host-routing")
	if d.State != Downgraded || !strings.Contains(d.Reason, "requires kernel 5.10 or newer") || !strings.Contains(d.Reason, "legacy host routing") {
		t.Fatalf("host routing on 5.4: %+v", d)
	}
}

func TestProbedCapabilitiesWin(t *testing.T) {
	k := kernel("4.18.0")
	k.Probed = map[Capability]bool{CapRedirectPeer: true, CapRedirectNeigh: true}
	r := Resolve(Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}, k, "")
	if !r.On("host-routing") {
		t.Fatalf("probed 4.18 with redirect helpers: host routing %+v", r.Decision("host-routing"))
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"4.19.232": "4.19.232", "5.10": "5.10.0", "4.18.0-305.el8.x86_64": "4.18.0"} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, bad := range []string{"", "510", "5.100", "1.0", "10.1", "5.x", "05.10", "5.10.1.2", "-1.2"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q): want error", bad)
		}
	}
}

func TestSocketLBBackportBranches(t *testing.T) {
	for v, want := range map[string]bool{"4.19.56": false, "4.19.57": true, "5.1.15": false, "5.1.16": true, "5.2.0": true, "5.0.0": false, "4.20.0": false} {
		if got := versionHas(MustVersion(v), CapSocketLBUDP); got != want {
			t.Errorf("%s: got %v want %v", v, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"enable-bpf-masqurade": "enable-bpf-masquerade", "tunel": "tunnel", "kube-proxy-replacment": "kube-proxy-replacement", "zzz": ""} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// Kernels without global data get objects whose node values are compiled
// in: one variant per value set, nothing left to set at load, no warning.
func TestStaticConfigBefore52(t *testing.T) {
	cfg := Config{"tunnel": "vxlan", "mtu": "1450"}
	old := Resolve(cfg, kernel("4.19.232"), "")
	defines := map[string]string{}
	for _, d := range old.Variant.Defines {
		defines[d.Name] = d.Value
	}
	if defines[StaticConfigDefine] != "1" || defines["MTU"] != "1450" || defines["TUNNEL_PORT"] != "8472" {
		t.Errorf("4.19 variant defines %v, want %s, MTU=1450, TUNNEL_PORT=8472", defines, StaticConfigDefine)
	}
	if len(old.Values) != 0 {
		t.Errorf("4.19 node keeps load-time values %v", old.Values)
	}
	for _, p := range old.Problems {
		if p.Rule == "datapath-unloadable" {
			t.Errorf("4.19 node still warned: %s", p.Message)
		}
	}
	other := Resolve(cfg.Merge(Config{"mtu": "9000"}), kernel("4.19.232"), "")
	if other.Variant.ID == old.Variant.ID {
		t.Error("two MTUs on 4.19 share a variant; their values are compiled in")
	}
	lts := Resolve(cfg, kernel("5.10.0"), "")
	for _, d := range lts.Variant.Defines {
		if d.Name == StaticConfigDefine || d.Name == "MTU" {
			t.Errorf("5.10 variant has %s", d.Name)
		}
	}
	if len(lts.Values) == 0 {
		t.Error("5.10 node has no load-time values")
	}
	if again := Resolve(cfg.Merge(Config{"mtu": "9000"}), kernel("5.10.0"), ""); again.Variant.ID != lts.Variant.ID {
		t.Error("two MTUs on 5.10 got different variants")
	}
}

// The helper table answers for what the datapath calls and refuses what it
// does not know.
func TestSince(t *testing.T) {
	for what, want := range map[string]string{"helper:fib_lookup": "4.18", "helper:redirect_peer": "5.10", "map:LRUHash": "4.10", "prog:SchedCLS": "4.1"} {
		v, ok := Since(what)
		if !ok || !strings.HasPrefix(v.String(), want) {
			t.Errorf("Since(%q) = %v, %v; want %s", what, v, ok, want)
		}
	}
	if _, ok := Since("helper:no_such_helper"); ok {
		t.Error("Since knows a helper that does not exist")
	}
}

// A probe that contradicts the table is a mismatch naming the capability,
// the kernel and the table's claim; agreement is silent.
func TestCompareProbe(t *testing.T) {
	v := MustVersion("6.1.192")
	agree := map[Capability]bool{CapTCX: false, CapRedirectPeer: true, CapRingBuf: true}
	if got := CompareProbe("6.1.0-57-amd64", v, "Linux version 6.1.0-57-amd64 ... Debian 6.1.192-3", agree); len(got) != 0 {
		t.Errorf("agreeing probe: %v", got)
	}
	got := CompareProbe("6.1.0-57-amd64", v, "Debian", map[Capability]bool{CapTCX: true, CapRedirectPeer: true})
	if len(got) != 1 || got[0].Capability != CapTCX || got[0].Table || !got[0].Probed || got[0].Exception != "" {
		t.Fatalf("mismatch: %+v", got)
	}
	want := "attach:tcx: kernel 6.1.0-57-amd64 (6.1.192) has it, the table says it lacks it (documented minimum 6.6)"
	if got[0].String() != want {
		t.Errorf("String() = %q, want %q", got[0].String(), want)
	}
	saved := exceptions
	t.Cleanup(func() { exceptions = saved })
	exceptions = []Exception{{Capability: CapTCX, Distribution: "Debian", Series: V(6, 1, 0), Has: true, Reason: "backported"}}
	got = CompareProbe("6.1.0-57-amd64", v, "Debian", map[Capability]bool{CapTCX: true})
	if len(got) != 1 || got[0].Exception != "backported" {
		t.Errorf("documented exception: %+v", got)
	}
	if got := CompareProbe("6.1.0-57-amd64", v, "Ubuntu", map[Capability]bool{CapTCX: true}); len(got) != 1 || got[0].Exception != "" {
		t.Errorf("another distribution took Debian's exception: %+v", got)
	}
}
