package features

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dpforge/dpforge/features/diag"
)

// State is a feature's outcome on a node.
type State string

// Feature states.
const (
	Enabled  State = "enabled"
	Disabled State = "disabled" // not asked for
	// Downgraded: asked for, a requirement is unmet, and the node runs the
	// fallback instead (Cilium's silent fallbacks, made explicit).
	Downgraded State = "downgraded"
	// Failed: asked for and impossible; the configuration is invalid.
	Failed State = "failed"
)

// Decision records one feature's outcome and why.
type Decision struct {
	Feature string `json:"name"`
	State   State  `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Stage   string `json:"stage"`
}

// Problem is a finding about the input. Option names the key to point at;
// Other the second key of a conflict.
type Problem struct {
	Severity diag.Severity
	Rule     string
	Message  string
	Option   string
	Other    string
	// OptionScoped problems are about option values alone, not about the
	// node they were found on; a matrix reports them once per key.
	OptionScoped bool
}

// Variant identifies one specialized datapath object set: the compile-time
// defines plus the target instruction set and byte order.
type Variant struct {
	ID      string   `json:"id"`
	Defines []Define `json:"defines"`
	CPU     string   `json:"cpu"`
	Target  string   `json:"target"`
}

// Key is the canonical identity string the ID is derived from.
func (v Variant) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dpforge-variant/1\ncpu=%s\ntarget=%s\n", v.CPU, v.Target)
	for _, d := range v.Defines {
		fmt.Fprintf(&b, "%s=%s\n", d.Name, d.Value)
	}
	return b.String()
}

func (v *Variant) setID() {
	sum := sha256.Sum256([]byte(v.Key()))
	v.ID = hex.EncodeToString(sum[:6])
}

// LoadValue is a per-node value set at load time: Var is the datapath's
// volatile const variable, Macro the node_config.h name, Value its text
// ("1500", "10.0.0.0").
type LoadValue struct {
	Var   string `json:"var"`
	Macro string `json:"macro"`
	Value string `json:"value"`
	// C is the value as a C literal for headers.
	C string `json:"-"`
}

// StatusLine is one line of a `cilium status`-style report.
type StatusLine struct {
	Key   string
	Value string
}

// Resolution is everything Resolve decides for one node.
type Resolution struct {
	Kernel Kernel
	// Release is the Cilium release the node was judged as.
	Release   Release
	Decisions []Decision // in table order
	Variant   Variant
	Values    []LoadValue // sorted by Var
	// MapSizes are map-creation values, sorted by Map.
	MapSizes []MapSize
	// NodeDefines are the macros of enabled load-time features: they appear
	// in node_config.h but not in the variant.
	NodeDefines []Define
	Status      []StatusLine
	Problems    []Problem

	// effective is the configuration as the release reads it.
	effective Config
}

// Decision returns the decision for a feature.
func (r *Resolution) Decision(name string) Decision {
	for _, d := range r.Decisions {
		if d.Feature == name {
			return d
		}
	}
	return Decision{Feature: name, State: Disabled}
}

// On reports whether a feature ended up enabled.
func (r *Resolution) On(name string) bool { return r.Decision(name).State == Enabled }

// Defines returns every macro of the node: the variant's compile-time
// defines and the load-time values, sorted by name.
func (r *Resolution) Defines() []Define {
	out := append([]Define(nil), r.Variant.Defines...)
	out = append(out, r.NodeDefines...)
	for _, v := range r.Values {
		out = append(out, Define{v.Macro, v.C})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Target byte orders.
const (
	LittleEndian = "bpfel"
	BigEndian    = "bpfeb"
)

// Resolve decides a node's features from its configuration and kernel. It is
// pure: the same inputs give the same Resolution. target is LittleEndian or
// BigEndian ("" means little-endian).
func Resolve(cfg Config, k Kernel, target string) *Resolution {
	return new(Resolver).Resolve(cfg, k, target)
}

// Resolver resolves many nodes. Nodes whose configurations differ only in
// per-node values (mtu, cluster-id) on the same kernel share the feature
// decisions, variant and status, which are computed once; the values and
// their checks are computed per node. A Resolver is not safe for concurrent
// use; its results are, and must not be modified.
type Resolver struct {
	shared map[uint64][]sharedEntry
}

// sharedEntry is one shared resolution and what it was computed from.
type sharedEntry struct {
	cfg    Config
	kernel Kernel
	target string
	r      *Resolution
}

// Resolve is Resolve with sharing.
func (rs *Resolver) Resolve(cfg Config, k Kernel, target string) *Resolution {
	if target == "" {
		target = LittleEndian
	}
	h := sharedHash(cfg, k, target)
	var base *Resolution
	for _, e := range rs.shared[h] {
		if e.target == target && sameKernel(e.kernel, k) && sameShared(e.cfg, cfg) {
			base = e.r
			break
		}
	}
	if base == nil {
		base = resolveShared(cfg, k, target)
		if rs.shared == nil {
			rs.shared = map[uint64][]sharedEntry{}
		}
		rs.shared[h] = append(rs.shared[h], sharedEntry{cfg.Merge(nil), k, target, base})
	}
	r := *base
	mtu, clusterID := nodeValueInts(cfg)
	// Clipped, so that a node's own problems never land in the shared array.
	r.Problems = append(slices.Clip(base.Problems), checkNodeValues(mtu, clusterID, base.effective.Get("cluster-name"))...)
	r.Values = append([]LoadValue(nil), base.Values...)
	for i, v := range r.Values {
		switch v.Var {
		case "cfg_mtu":
			r.Values[i] = numValue(v.Var, v.Macro, effectiveMTU(mtu))
		case "cfg_cluster_id":
			r.Values[i] = numValue(v.Var, v.Macro, clusterID)
		}
	}
	// Per node: a static-configuration variant is made of the node's own
	// values.
	staticConfig(&r)
	return &r
}

// nodeValueInts reads the nodeValues options (0 when unset or invalid).
func nodeValueInts(cfg Config) (mtu, clusterID int) {
	return cfg.Int("mtu"), cfg.Int("cluster-id")
}

// effectiveMTU is the MTU a node's values carry: 0 means the loader
// detects it, and 1500 is the compile-test default.
func effectiveMTU(mtu int) int {
	if mtu == 0 {
		return 1500
	}
	return mtu
}

func numValue(v, macro string, n int) LoadValue {
	s := strconv.Itoa(n)
	return LoadValue{v, macro, s, s}
}

// sharedHash hashes what a Resolution depends on apart from nodeValues,
// independently of map order; sameShared and sameKernel confirm a match.
func sharedHash(cfg Config, k Kernel, target string) uint64 {
	h := fnv(fnv(fnv(fnvInit, target), k.Name), k.Release) ^ uint64(k.Version.Major)<<40 ^ uint64(k.Version.Minor)<<20 ^ uint64(k.Version.Patch)
	var sum uint64
	for key, v := range cfg {
		if isNodeValue(key) {
			continue
		}
		sum += fnv(fnv(fnvInit, key), v)
	}
	return h*1099511628211 ^ sum
}

const fnvInit = 14695981039346656037

func fnv(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h * 1099511628211
}

func isNodeValue(key string) bool { return slices.Contains(nodeValues, key) }

// sameShared reports whether two configurations agree on everything but
// the nodeValues.
func sameShared(a, b Config) bool {
	n := 0
	for k, v := range a {
		if isNodeValue(k) {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			return false
		}
		n++
	}
	for k := range b {
		if !isNodeValue(k) {
			n--
		}
	}
	return n == 0
}

func sameKernel(a, b Kernel) bool {
	if a.Name != b.Name || a.Version != b.Version || a.Release != b.Release || len(a.Probed) != len(b.Probed) {
		return false
	}
	for c, v := range a.Probed {
		if w, ok := b.Probed[c]; !ok || w != v || a.Sources[c] != b.Sources[c] {
			return false
		}
	}
	return true
}

// resolveShared decides everything but the per-node values.
func resolveShared(cfg Config, k Kernel, target string) *Resolution {
	rel, _ := cfg.Release()
	r := &Resolution{Kernel: k, Release: rel}
	cfg, r.Problems = forRelease(cfg, rel)
	r.effective = cfg
	r.Problems = append(r.Problems, checkOptions(cfg)...)

	state := make(map[string]State, len(Features))
	reason := make(map[string]string, len(Features))
	warned := map[string]bool{}
	for _, f := range Features {
		if f.Want(cfg) {
			state[f.Name] = Enabled
		} else {
			state[f.Name] = Disabled
		}
	}
	on := func(name string) bool {
		if strings.HasPrefix(name, "!") {
			return state[name[1:]] != Enabled
		}
		return state[name] == Enabled
	}

	// Disabling one feature can break another that was checked earlier in
	// the same pass (a later row may be required through When), so iterate
	// to a fixed point. Each pass only turns features off: it terminates.
	for changed := true; changed; {
		changed = false
		for _, f := range Features {
			if state[f.Name] != Enabled {
				continue
			}
			for i, req := range f.Requires {
				if req.When != "" && !on(req.When) || !req.applies(cfg, rel) {
					continue
				}
				ok, detail, rule := satisfied(req, cfg, k, rel, on)
				if ok {
					continue
				}
				if req.Policy != nil && *req.Policy == Warn {
					key := f.Name + "/" + strconv.Itoa(i)
					if !warned[key] {
						warned[key] = true
						r.Problems = append(r.Problems, Problem{Severity: diag.Warning, Rule: rule, Message: req.Message, Option: f.Option, Other: req.Blame})
					}
					continue
				}
				policy := f.Unmet
				if req.Policy != nil {
					policy = *req.Policy
				}
				if policy == FailUnlessProbe {
					policy = Fail
					if cfg.KPR() == KPRProbe {
						policy = Degrade
					}
				}
				msg := req.Message
				if msg == "" {
					msg = fmt.Sprintf("%s requires %s.", f.Title, detail)
				}
				if req.Cap != "" || !req.MinKernel.IsZero() {
					msg = fmt.Sprintf("%s (%s).", strings.TrimSuffix(msg, "."), detail)
				}
				changed = true
				// A requirement on a feature that itself failed is not the
				// user's second problem: say so instead of repeating the
				// requirement's own wording, which may not fit.
				cascade := req.Feature != "" && state[req.Feature] == Failed
				if cascade {
					msg = fmt.Sprintf("%s requires %s, which failed.", f.Title, detail)
				}
				switch policy {
				case Ignore:
					state[f.Name] = Downgraded
					reason[f.Name] = msg
					if !cascade {
						r.Problems = append(r.Problems, Problem{Severity: diag.Info, Rule: diag.RuleIgnoredOption, Message: msg, Option: f.Option, Other: req.Blame})
					}
				case Degrade:
					state[f.Name] = Downgraded
					if f.Fallback != "" {
						msg += " Falling back to " + f.Fallback + "."
					}
					reason[f.Name] = msg
					if !f.Quiet && !req.Quiet && !cascade {
						r.Problems = append(r.Problems, Problem{Severity: diag.Warning, Rule: diag.RuleDowngrade, Message: f.Title + " downgraded: " + msg, Option: f.Option, Other: req.Blame})
					}
				default:
					state[f.Name] = Failed
					reason[f.Name] = msg
					if !cascade {
						r.Problems = append(r.Problems, Problem{Severity: diag.Error, Rule: rule, Message: msg, Option: f.Option, Other: req.Blame})
					}
				}
				break
			}
		}
	}

	for _, f := range Features {
		d := Decision{Feature: f.Name, State: state[f.Name], Reason: reason[f.Name], Stage: f.Stage.String()}
		r.Decisions = append(r.Decisions, d)
		if d.State == Enabled && f.Stage == CompileTime {
			r.Variant.Defines = append(r.Variant.Defines, f.Defines...)
		}
		if d.State == Enabled && f.Stage == LoadTime {
			r.NodeDefines = append(r.NodeDefines, f.Defines...)
		}
	}
	sort.Slice(r.Variant.Defines, func(i, j int) bool { return r.Variant.Defines[i].Name < r.Variant.Defines[j].Name })
	r.Variant.CPU = k.CPU()
	r.Variant.Target = target
	r.Variant.setID()
	r.Values, r.Problems = loadValues(cfg, r, r.Problems)
	r.MapSizes = mapSizes(cfg)
	r.Status = status(cfg, r)
	r.Problems = append(r.Problems, notes(cfg, r)...)
	return r
}

// satisfied checks one requirement, returning a description of what is
// missing and the diagnostic rule for it.
func satisfied(req Requirement, cfg Config, k Kernel, rel Release, on func(string) bool) (bool, string, string) {
	switch {
	case req.Feature != "":
		name := strings.TrimPrefix(req.Feature, "!")
		title := name
		if f, ok := LookupFeature(name); ok {
			title = f.Title
		}
		if strings.HasPrefix(req.Feature, "!") {
			return on(req.Feature), "no " + title, diag.RuleConflict
		}
		return on(req.Feature), title, diag.RuleMissingDependency
	case req.Cap != "":
		has, how := k.Has(req.Cap)
		return has, fmt.Sprintf("kernel %s lacks %s; %s", k.Version.Short(), CapabilityDoc(req.Cap), how), diag.RuleKernelTooOld
	case !req.MinKernel.IsZero():
		return k.Version.AtLeast(req.MinKernel), fmt.Sprintf("kernel %s is older than %s", k.Version.Short(), req.MinKernel.Short()), diag.RuleKernelTooOld
	case req.Option != "":
		if len(req.Values) == 0 {
			return cfg.IsSet(req.Option), req.Option + " to be set", diag.RuleMissingOption
		}
		// Values are checked against the effective value, defaults included.
		v := cfg.Get(req.Option)
		for _, w := range req.Values {
			if v == w {
				return true, "", ""
			}
		}
		return false, fmt.Sprintf("%s=%s", req.Option, strings.Join(req.Values, "|")), diag.RuleUnsupportedValue
	}
	return true, "", ""
}

// checkOptions reports contradictions between options that are not about
// features: routing spelled two ways, deprecated words, ranges.
func checkOptions(cfg Config) (ps []Problem) {
	defer func() {
		for i := range ps {
			ps[i].OptionScoped = true
		}
	}()
	// Only 1.14 has both keys (the release drops the other elsewhere): it
	// refuses routing-mode other than its default next to tunnel (Populate
	// in pkg/option/config.go).
	if cfg.IsSet("tunnel") && cfg.IsSet("routing-mode") && cfg.Get("routing-mode") != "tunnel" {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleConflict, Option: "routing-mode", Other: "tunnel",
			Message: "Option --routing-mode cannot be used in combination with --tunnel"})
	}
	if cfg.IsSet("tunnel") && cfg.IsSet("tunnel-protocol") && cfg.Get("tunnel") != "disabled" && cfg.Get("tunnel") != cfg.Get("tunnel-protocol") {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleConflict, Option: "tunnel-protocol", Other: "tunnel",
			Message: fmt.Sprintf("tunnel-protocol=%s contradicts tunnel=%s", cfg.Get("tunnel-protocol"), cfg.Get("tunnel"))})
	}
	if cfg.KPR() == KPRDisabled {
		for _, o := range []string{"enable-node-port", "enable-host-port", "enable-external-ips"} {
			if cfg.Bool(o) {
				ps = append(ps, Problem{Severity: diag.Warning, Rule: diag.RuleIgnoredOption, Option: o, Other: "kube-proxy-replacement",
					Message: o + " is ignored with kube-proxy-replacement=disabled"})
			}
		}
	}
	if !cfg.Bool("enable-ipv4") && !cfg.Bool("enable-ipv6") {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleConflict, Option: "enable-ipv4", Other: "enable-ipv6",
			Message: "at least one of enable-ipv4 and enable-ipv6 must be true"})
	}
	if _, _, err := nodePortRange(cfg); err != nil {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "node-port-range", Message: err.Error()})
	}
	for _, o := range []string{"devices"} {
		for _, d := range cfg.List(o) {
			if !ValidDevice(d) {
				ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: o, Message: fmt.Sprintf("%q is not a valid interface name", d)})
			}
		}
	}
	if cfg.Bool("enable-vtep") {
		ps = append(ps, checkVTEP(cfg)...)
	}
	if n := cfg.Int("bpf-lb-maglev-table-size"); !slices.Contains(MaglevTableSizes, n) {
		sizes := make([]string, len(MaglevTableSizes))
		for i, m := range MaglevTableSizes {
			sizes[i] = strconv.Itoa(m)
		}
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "bpf-lb-maglev-table-size",
			Message: fmt.Sprintf("bpf-lb-maglev-table-size %d is not one of the supported primes %s", n, strings.Join(sizes, ", "))})
	}
	return ps
}

// nodeValues are the options that typically differ from node to node and
// decide nothing but load-time values: a Resolver shares everything else.
var nodeValues = []string{"mtu", "cluster-id"}

// checkNodeValues checks the nodeValues options.
func checkNodeValues(mtu, clusterID int, clusterName string) (ps []Problem) {
	if clusterID != 0 && clusterName == "default" {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleMissingOption, Option: "cluster-id", Other: "cluster-name", OptionScoped: true,
			Message: "cluster-id other than 0 requires a cluster-name other than \"default\""})
	}
	if mtu != 0 && mtu < 1280 {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "mtu", OptionScoped: true,
			Message: fmt.Sprintf("mtu %d is below the IPv6 minimum of 1280 (0 means detect)", mtu)})
	}
	return ps
}

// vtepMax is Cilium's VTEP map size.
const vtepMax = 8

func checkVTEP(cfg Config) []Problem {
	var ps []Problem
	eps, cidrs, macs := cfg.List("vtep-endpoint"), cfg.List("vtep-cidr"), cfg.List("vtep-mac")
	if len(eps) != len(cidrs) || len(eps) != len(macs) {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-endpoint",
			Message: fmt.Sprintf("vtep-endpoint, vtep-cidr and vtep-mac must have the same number of entries (%d, %d, %d)", len(eps), len(cidrs), len(macs))})
	}
	if len(eps) > vtepMax {
		ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-endpoint",
			Message: fmt.Sprintf("at most %d VTEPs are supported, got %d", vtepMax, len(eps))})
	}
	for _, e := range eps {
		if a, err := netip.ParseAddr(e); err != nil || !a.Is4() {
			ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-endpoint", Message: fmt.Sprintf("%q is not an IPv4 address", e)})
		}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err != nil || !p.Addr().Is4() {
			ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-cidr", Message: fmt.Sprintf("%q is not an IPv4 CIDR", c)})
		}
	}
	for _, m := range macs {
		if !macRe.MatchString(m) {
			ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-mac", Message: fmt.Sprintf("%q is not a MAC address", m)})
		}
	}
	if m := cfg.Get("vtep-mask"); m != "" {
		if a, err := netip.ParseAddr(m); err != nil || !a.Is4() || !contiguousMask(a) {
			ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "vtep-mask", Message: fmt.Sprintf("%q is not a contiguous IPv4 netmask", m)})
		}
	}
	return ps
}

func contiguousMask(a netip.Addr) bool {
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return m == 0 || (^m)&(^m+1) == 0
}

func nodePortRange(cfg Config) (lo, hi int, err error) {
	parts := strings.Split(cfg.Get("node-port-range"), ",")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("node-port-range %q: want MIN,MAX", cfg.Get("node-port-range"))
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(parts[0]))
	hi, err2 := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo >= hi {
		return 0, 0, fmt.Errorf("node-port-range %q: want MIN,MAX with 1 <= MIN < MAX <= 65535", cfg.Get("node-port-range"))
	}
	return lo, hi, nil
}

// loopbackIPv4 is Cilium's service loopback address: the source of a pod's
// connection to a service whose chosen backend is the pod itself.
const loopbackIPv4 = "169.254.42.1"

// MapSize is a per-node map size: the loader sets the map's MaxEntries
// (MapSpec.MaxEntries) before creating it, so nodes that differ only in
// their sizes still share one object.
type MapSize struct {
	Map     string `json:"map"`
	Entries uint32 `json:"entries"`
	// Options are the agent options the size comes from.
	Options []string `json:"options"`
}

// mapSizes derives the per-node map sizes from Cilium's table-size options.
// The datapath keeps TCP and other conntrack entries in one map, so its
// size is the sum of the two Cilium tables.
func mapSizes(cfg Config) []MapSize {
	return []MapSize{
		{Map: "dp_conntrack", Entries: uint32(cfg.Int("bpf-ct-global-tcp-max") + cfg.Int("bpf-ct-global-any-max")),
			Options: []string{"bpf-ct-global-tcp-max", "bpf-ct-global-any-max"}},
		{Map: "dp_snat", Entries: uint32(cfg.Int("bpf-nat-global-max")), Options: []string{"bpf-nat-global-max"}},
	}
}

// loadValues derives the per-node load-time values.
func loadValues(cfg Config, r *Resolution, ps []Problem) ([]LoadValue, []Problem) {
	var vs []LoadValue
	add := func(v, macro, val, c string) { vs = append(vs, LoadValue{v, macro, val, c}) }
	num := func(v, macro string, n int) { add(v, macro, strconv.Itoa(n), strconv.Itoa(n)) }

	mtu, clusterID := nodeValueInts(cfg)
	num("cfg_mtu", "MTU", effectiveMTU(mtu))
	num("cfg_cluster_id", "CLUSTER_ID", clusterID)
	if r.On("tunnel-device") {
		port := 8472
		if r.On("tunnel-geneve") {
			port = 6081
		}
		if cfg.IsSet("tunnel-port") {
			port = cfg.Int("tunnel-port")
		}
		num("cfg_tunnel_port", "TUNNEL_PORT", port)
	}
	if r.On("nodeport") {
		if lo, hi, err := nodePortRange(cfg); err == nil {
			num("cfg_nodeport_min", "NODEPORT_PORT_MIN", lo)
			num("cfg_nodeport_max", "NODEPORT_PORT_MAX", hi)
		}
	}
	if r.On("nodeport") {
		// Cilium's NODEPORT_PORT_MIN_NAT/MAX_NAT: above the NodePort range.
		if _, hi, err := nodePortRange(cfg); err == nil && hi < 65535 {
			num("cfg_snat_port_min", "NODEPORT_PORT_MIN_NAT", hi+1)
			num("cfg_snat_port_max", "NODEPORT_PORT_MAX_NAT", 65535)
		}
		add("cfg_loopback_ipv4", "IPV4_LOOPBACK", loopbackIPv4, "0xa9fe2a01")
	}
	if r.On("maglev") {
		num("cfg_maglev_table_size", "LB_MAGLEV_LUT_SIZE", cfg.Int("bpf-lb-maglev-table-size"))
	}
	if r.On("bpf-masquerade-ipv4") {
		if p, ok := cfg.Prefix("ipv4-native-routing-cidr"); ok && p.Addr().Is4() {
			b := p.Addr().As4()
			add("cfg_snat_excl_ipv4", "IPV4_SNAT_EXCLUSION_DST_CIDR", p.Addr().String(),
				fmt.Sprintf("0x%02x%02x%02x%02x", b[0], b[1], b[2], b[3]))
			num("cfg_snat_excl_ipv4_len", "IPV4_SNAT_EXCLUSION_DST_CIDR_LEN", p.Bits())
		} else if cfg.IsSet("ipv4-native-routing-cidr") {
			ps = append(ps, Problem{Severity: diag.Error, Rule: diag.RuleInvalidValue, Option: "ipv4-native-routing-cidr", Message: "ipv4-native-routing-cidr must be an IPv4 CIDR"})
		}
	}
	if r.On("vtep") {
		if a, err := netip.ParseAddr(cfg.Get("vtep-mask")); err == nil && a.Is4() {
			b := a.As4()
			add("cfg_vtep_mask", "VTEP_MASK", a.String(), fmt.Sprintf("0x%02x%02x%02x%02x", b[0], b[1], b[2], b[3]))
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Var < vs[j].Var })
	return vs, ps
}

// StaticConfigDefine marks a variant for kernels without global data
// (CapRODataMap, 5.2): its node values are compile-time macros instead of
// load-time variables, and it has no .rodata, .data or .bss.
const StaticConfigDefine = "DP_STATIC_CONFIG"

// staticConfig turns the load-time values of a node whose kernel cannot
// freeze .rodata into compile-time defines of its variant: such nodes get
// one object per distinct value set, and nothing is left to set at load.
func staticConfig(r *Resolution) {
	if ok, _ := r.Kernel.Has(CapRODataMap); ok {
		return
	}
	// A new slice: r's may be shared with other nodes' resolutions.
	defines := append(slices.Clone(r.Variant.Defines), Define{StaticConfigDefine, "1"})
	for _, v := range r.Values {
		defines = append(defines, Define{v.Macro, v.C})
	}
	sort.Slice(defines, func(i, j int) bool { return defines[i].Name < defines[j].Name })
	r.Variant.Defines = defines
	r.Variant.setID()
	r.Values = nil
}

// notes are warnings about features dpforge models but whose datapath part
// it does not build.
func notes(cfg Config, r *Resolution) []Problem {
	var ps []Problem
	for _, n := range []struct{ feature, what string }{
		{"ipsec", "IPsec encryption"}, {"wireguard", "WireGuard encryption"}, {"l7-proxy", ""},
	} {
		if n.what != "" && r.On(n.feature) {
			f, _ := LookupFeature(n.feature)
			ps = append(ps, Problem{Severity: diag.Warning, Rule: diag.RuleNotInDatapath, Option: f.Option,
				Message: n.what + " takes part in validation, but the dpforge datapath carries no encryption code"})
		}
	}
	if r.On("host-firewall") && len(cfg.List("devices")) == 0 {
		ps = append(ps, Problem{Severity: diag.Warning, Rule: diag.RuleMissingOption, Option: "enable-host-firewall", Other: "devices",
			Message: "Host firewall's external facing device could not be determined offline; set devices, or the loader detects them"})
	}
	return ps
}
