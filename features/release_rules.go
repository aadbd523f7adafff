package features

import (
	"fmt"

	"github.com/dpforge/dpforge/features/diag"
)

// valueEra records how Cilium's releases treat one word of an option: from
// Deprecated on the agent warns; from Removed on it either refuses to start
// (Becomes == "") or accepts the word and acts as Becomes.
type valueEra struct {
	Option, Value       string
	Deprecated, Removed Release
	Becomes             string
	Source              string // where the fact comes from
}

// valueEras are the release-dependent meanings of option values.
var valueEras = []valueEra{
	// Deprecated in 1.12 and removed in 1.13 (cilium/cilium#22083); a 1.13
	// agent no longer starts with it.
	{Option: "kube-proxy-replacement", Value: "probe", Deprecated: R(1, 12), Removed: R(1, 13),
		Source: "cilium/cilium#22083"},
	// Deprecated in 1.14 in favour of true/false (cilium/cilium#26577),
	// still accepted by 1.15 (pkg/option/config.go at v1.15.0 defines them),
	// refused from 1.16: "Invalid value for --kube-proxy-replacement"
	// (cilium/cilium#31286; the agent log is quoted in
	// kubernetes-sigs/kubespray#11417).
	{Option: "kube-proxy-replacement", Value: "strict", Deprecated: R(1, 14), Removed: R(1, 16),
		Source: "cilium/cilium#26577, #31286"},
	{Option: "kube-proxy-replacement", Value: "partial", Deprecated: R(1, 14), Removed: R(1, 16),
		Source: "cilium/cilium#26577, #31286"},
	{Option: "kube-proxy-replacement", Value: "disabled", Deprecated: R(1, 14), Removed: R(1, 16),
		Source: "cilium/cilium#26577, #31286"},
}

// hint says what to write instead of an option a release deprecated or
// dropped, and what an agent that ignores the option does.
type hint struct{ Instead, Ignored string }

var hints = map[string]hint{
	// cilium/cilium#29053: a 1.15+ agent ignores tunnel, so tunnel=disabled
	// no longer selects native routing.
	"tunnel": {"write routing-mode (native or tunnel) and tunnel-protocol instead", "without them the agent runs a VXLAN tunnel"},
	// Renamed in 1.18 (cilium/cilium#40014), the old key removed in 1.19.
	"enable-ipv4-egress-gateway": {"write enable-egress-gateway instead", "the egress gateway stays off"},
	// Removed in 1.19: NodePort follows kube-proxy-replacement (cilium/cilium#41380).
	"enable-node-port": {"BPF NodePort follows kube-proxy-replacement", ""},
	// Deprecated and on by default in 1.18 (cilium/cilium#38447), removed in
	// 1.19 (cilium/cilium#39583).
	"enable-session-affinity": {"session affinity is always on with the kube-proxy replacement", ""},
}

// forRelease returns the configuration as the release's agent reads it:
// options the release does not have are dropped and values it reads
// differently are rewritten, each with a problem saying so.
func forRelease(cfg Config, rel Release) (Config, []Problem) {
	var ps []Problem
	var out Config
	edit := func() {
		if out == nil {
			out = cfg.Merge(nil)
		}
	}
	for _, k := range cfg.Keys() {
		if k == ReleaseOption {
			continue
		}
		info, known := LookupOption(k)
		if !known {
			continue
		}
		// What the release does with an option dpforge does not model is
		// only a note: the option takes no part in the model.
		sev := diag.Info
		if _, modeled := optionIndex[k]; modeled {
			sev = diag.Warning
		}
		switch {
		case !info.ExistsIn(rel.String()):
			edit()
			delete(out, k)
			var msg string
			if info.Removed != "" && rel.AtLeast(mustRelease(info.Removed)) {
				msg = fmt.Sprintf("option %q was removed in Cilium %s; a Cilium %s agent ignores it", k, info.Removed, rel)
			} else {
				msg = fmt.Sprintf("option %q was added in Cilium %s; a Cilium %s agent ignores it", k, info.Added, rel)
			}
			if h, ok := hints[k]; ok {
				msg += ": " + h.Instead
				if h.Ignored != "" {
					msg += "; " + h.Ignored
				}
			}
			ps = append(ps, Problem{Severity: sev, Rule: diag.RuleNotInRelease, Option: k, Message: msg, OptionScoped: true})
		case info.Deprecated != "" && rel.AtLeast(mustRelease(info.Deprecated)):
			msg := fmt.Sprintf("option %q is deprecated since Cilium %s", k, info.Deprecated)
			if h, ok := hints[k]; ok {
				msg += "; " + h.Instead
			}
			ps = append(ps, Problem{Severity: sev, Rule: diag.RuleDeprecated, Option: k, Message: msg, OptionScoped: true})
		}
	}
	for _, e := range valueEras {
		if !cfg.IsSet(e.Option) || cfg.Get(e.Option) != e.Value || !rel.AtLeast(e.Deprecated) {
			continue
		}
		p := Problem{Option: e.Option, OptionScoped: true}
		switch {
		case !rel.AtLeast(e.Removed):
			p.Severity, p.Rule = diag.Warning, diag.RuleDeprecated
			p.Message = fmt.Sprintf("%s=%s is deprecated since Cilium %s and removed in %s", e.Option, e.Value, e.Deprecated, e.Removed)
		case e.Becomes == "":
			p.Severity, p.Rule = diag.Error, diag.RuleInvalidValue
			p.Message = fmt.Sprintf("%s=%s was removed in Cilium %s; a Cilium %s agent refuses to start: Invalid value for --%s: %s", e.Option, e.Value, e.Removed, rel, e.Option, e.Value)
		default:
			edit()
			out[e.Option] = e.Becomes
			p.Severity, p.Rule = diag.Warning, diag.RuleDeprecated
			p.Message = fmt.Sprintf("%s=%s is no longer recognised since Cilium %s: a Cilium %s agent runs as with %s=%s", e.Option, e.Value, e.Removed, rel, e.Option, e.Becomes)
		}
		ps = append(ps, p)
	}
	if out == nil {
		out = cfg
	}
	return out, ps
}

func mustRelease(s string) Release {
	r, err := ParseRelease(s)
	if err != nil {
		// Registry releases outside the modeled range compare by number.
		var maj, min int
		fmt.Sscanf(s, "%d.%d", &maj, &min)
		return R(maj, min)
	}
	return r
}
