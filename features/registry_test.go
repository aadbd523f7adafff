package features

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestRegistryData(t *testing.T) {
	r, err := parseRegistry(ciliumOptionsTSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) < 500 {
		t.Fatalf("registry has %d options, want the full set (>= 500)", len(r))
	}
	header := regexp.MustCompile(`(?m)^# .*github\.com/cilium/charts at commit [0-9a-f]{40}`)
	if !header.MatchString(ciliumOptionsTSV) {
		t.Error("header does not name the charts commit the ConfigMap keys were read from")
	}
	if !strings.Contains(ciliumOptionsTSV, "newest release found") || !strings.Contains(ciliumOptionsTSV, RegistryNewest) {
		t.Errorf("header does not state the newest release %s", RegistryNewest)
	}
	if !sort.SliceIsSorted(r, func(i, j int) bool { return r[i].Name < r[j].Name }) {
		t.Error("registry is not sorted")
	}
	newest, _ := parseMinor(RegistryNewest)
	for _, o := range r {
		if o.Added == "" && !strings.Contains(o.Note, "added it is unknown") {
			t.Errorf("%s: no added release, and the note does not say why", o.Name)
		}
		for _, rel := range []string{o.Added, o.Deprecated, o.Removed} {
			if m, ok := parseMinor(rel); ok && newest.less(m) {
				t.Errorf("%s: release %s is newer than the newest covered, %s", o.Name, rel, RegistryNewest)
			}
		}
		if o.Note == "" {
			t.Errorf("%s: no note saying where it was seen", o.Name)
		}
	}
}

func TestRegistryHasModeledOptions(t *testing.T) {
	for _, o := range optionTable {
		if _, ok := LookupOption(o.Name); !ok && o.Name != ReleaseOption {
			t.Errorf("modeled option %q is not in the registry", o.Name)
		}
	}
}

func TestExistsIn(t *testing.T) {
	tests := []struct {
		o     OptionInfo
		minor string
		want  bool
	}{
		{OptionInfo{Added: "1.14"}, "1.13", false},
		{OptionInfo{Added: "1.14"}, "1.14", true},
		{OptionInfo{Added: "1.14"}, "1.20", true},
		{OptionInfo{Added: "1.12", Removed: "1.15"}, "1.14", true},
		{OptionInfo{Added: "1.12", Removed: "1.15"}, "1.15", false},
		{OptionInfo{Added: "1.9", Removed: "1.10"}, "1.9", true},
		{OptionInfo{Added: "1.9"}, "1.12", true}, // numeric, not string, order
		{OptionInfo{Added: "1.12"}, "1.9", false},
		{OptionInfo{}, "1.16", true},
		{OptionInfo{Added: "1.12"}, "1.14.2", false},
		{OptionInfo{Added: "1.12"}, "", false},
		{OptionInfo{Added: "1.12"}, "1.x", false},
		{OptionInfo{Added: "1.12"}, "1.014", false},
	}
	for _, tt := range tests {
		if got := tt.o.ExistsIn(tt.minor); got != tt.want {
			t.Errorf("%+v.ExistsIn(%q) = %v, want %v", tt.o, tt.minor, got, tt.want)
		}
	}
}

// TestRegistryFacts pins release facts read from the sources named in the
// data's header, so a regenerated file that loses them fails.
func TestRegistryFacts(t *testing.T) {
	tests := []struct {
		name  string
		minor string
		want  bool
	}{
		{"tunnel", "1.14", true},        // chart 1.14 no longer writes it, option.Config 1.14 still reads it
		{"tunnel", "1.15", false},       // neither in 1.15.0
		{"routing-mode", "1.13", false}, // new in 1.14
		{"routing-mode", "1.14", true},  //
		{"enable-ipv4-big-tcp", "1.13", false},
		{"enable-ipv4-big-tcp", "1.14", true},
		{"enable-remote-node-identity", "1.15", true},
		{"enable-remote-node-identity", "1.16", false},
		{"cluster-pool-ipv4-cidr", "1.12", true},
		{"enable-bpf-masquerade", RegistryNewest, true},
		{"enable-node-port", "1.18", true}, // deprecated in 1.18
		{"enable-node-port", "1.19", false},
		{"enable-ipv4-egress-gateway", "1.19", false},
		{"enable-egress-gateway", "1.17", false},
		{"enable-egress-gateway", "1.18", true},
		{"enable-high-scale-ipcache", "1.17", true},
		{"enable-high-scale-ipcache", "1.18", false},
	}
	for _, tt := range tests {
		o, ok := LookupOption(tt.name)
		if !ok {
			t.Errorf("%q is not in the registry", tt.name)
			continue
		}
		if got := o.ExistsIn(tt.minor); got != tt.want {
			t.Errorf("%q ExistsIn(%s) = %v, want %v (added %q, removed %q)", tt.name, tt.minor, got, tt.want, o.Added, o.Removed)
		}
	}
	if o, _ := LookupOption("cluster-pool-ipv4-cidr"); o.Component != "operator" {
		t.Errorf("cluster-pool-ipv4-cidr component = %q, want operator", o.Component)
	}
	if _, ok := LookupOption("no-such-option"); ok {
		t.Error("LookupOption found a name that is not in the registry")
	}
}

func TestParseRegistryErrors(t *testing.T) {
	tests := map[string]string{
		"fields":    "a\tagent\t1.12\t\t\n",
		"order":     "b\tagent\t1.12\t\t\tn\na\tagent\t1.12\t\t\tn\n",
		"duplicate": "a\tagent\t1.12\t\t\tn\na\tagent\t1.12\t\t\tn\n",
		"component": "a\tkernel\t1.12\t\t\tn\n",
		"release":   "a\tagent\tv1.12\t\t\tn\n",
		"removed":   "a\tagent\t1.14\t\t1.14\tn\n",
		"name":      "A_b\tagent\t1.12\t\t\tn\n",
	}
	for name, data := range tests {
		if _, err := parseRegistry(data); err == nil {
			t.Errorf("%s: parseRegistry accepted %q", name, data)
		}
	}
	if r, err := parseRegistry("# c\n\na\tagent\t1.12\t\t1.13\tn\n"); err != nil || len(r) != 1 {
		t.Errorf("parseRegistry of a valid file = %v, %v", r, err)
	}
}
