package features

// Temporary stand-in for the option registry (features.LookupOption,
// KnownOptions, OptionInfo): removed when the registry lands.

import (
	"sort"
	"strconv"
	"strings"
)

// OptionInfo describes one option the Cilium agent or its ConfigMap knows.
type OptionInfo struct{ Name, Component, Added, Deprecated, Removed, Note string }

var stubInfos = func() map[string]OptionInfo {
	m := map[string]OptionInfo{}
	for _, o := range optionTable {
		m[o.Name] = OptionInfo{Name: o.Name, Component: "agent", Added: "1.12"}
	}
	for _, n := range unmodeledOptions {
		m[n] = OptionInfo{Name: n, Component: "agent", Added: "1.12"}
	}
	for _, o := range []OptionInfo{
		{Name: "tunnel", Added: "1.12", Deprecated: "1.14", Removed: "1.15"},
		{Name: "routing-mode", Added: "1.14"},
		{Name: "tunnel-protocol", Added: "1.14"},
		{Name: "enable-tcx", Added: "1.16"},
		{Name: "kvstore", Added: "1.12"},
		{Name: "install-iptables-rules", Added: "1.12"},
		{Name: "cluster-pool-ipv6-cidr", Added: "1.12"},
		{Name: "enable-srv6", Added: "1.12"},
	} {
		o.Component = "agent"
		m[o.Name] = o
	}
	delete(m, ReleaseOption)
	return m
}()

// LookupOption finds an option of any Cilium release.
func LookupOption(name string) (OptionInfo, bool) { o, ok := stubInfos[name]; return o, ok }

// KnownOptions lists every option, sorted by name.
func KnownOptions() []OptionInfo {
	out := make([]OptionInfo, 0, len(stubInfos))
	for _, o := range stubInfos {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ExistsIn reports whether the option exists in a minor release ("1.14").
func (o OptionInfo) ExistsIn(minor string) bool {
	return stubMinor(o.Added) <= stubMinor(minor) && (o.Removed == "" || stubMinor(minor) < stubMinor(o.Removed))
}

func stubMinor(s string) int {
	_, m, _ := strings.Cut(s, ".")
	n, _ := strconv.Atoi(m)
	return n
}
