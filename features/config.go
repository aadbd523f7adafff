package features

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Config holds one node's option values in canonical form (see
// Option.Normalize). Options absent from the map take their defaults.
type Config map[string]string

// Get returns the value of a modeled option, or its default.
func (c Config) Get(name string) string {
	if v, ok := c[name]; ok {
		return v
	}
	if o, ok := optionIndex[name]; ok {
		return o.Default
	}
	return ""
}

// IsSet reports whether the option was given explicitly.
func (c Config) IsSet(name string) bool { _, ok := c[name]; return ok }

// Bool returns a boolean option.
func (c Config) Bool(name string) bool { return c.Get(name) == "true" }

// Int returns an integer option (0 when unset and without default).
func (c Config) Int(name string) int {
	n, _ := strconv.Atoi(c.Get(name))
	return n
}

// List returns a list option's words.
func (c Config) List(name string) []string {
	v := c.Get(name)
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Prefix returns a CIDR option.
func (c Config) Prefix(name string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(c.Get(name))
	return p, err == nil
}

// Merge returns a new Config with o's values over c's.
func (c Config) Merge(o Config) Config {
	out := make(Config, len(c)+len(o))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// Keys returns the explicitly set options, sorted.
func (c Config) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KPRMode is the kube-proxy replacement mode with Cilium's semantics.
type KPRMode string

// KPR modes. True and Strict enable every KPR feature and fail hard; Probe
// enables what the kernel can do and degrades the rest; Partial enables only
// the features selected one by one, failing hard; False and Disabled turn it
// off (Disabled also ignores the individual options, False honours them).
const (
	KPRTrue     KPRMode = "true"
	KPRStrict   KPRMode = "strict"
	KPRProbe    KPRMode = "probe"
	KPRPartial  KPRMode = "partial"
	KPRFalse    KPRMode = "false"
	KPRDisabled KPRMode = "disabled"
)

// KPR returns the configured kube-proxy replacement mode.
func (c Config) KPR() KPRMode { return KPRMode(c.Get("kube-proxy-replacement")) }

// Full reports whether the mode enables every KPR feature.
func (m KPRMode) Full() bool { return m == KPRTrue || m == KPRStrict || m == KPRProbe }

// Word is the mode as `cilium status` prints it.
func (m KPRMode) Word() string {
	switch m {
	case KPRTrue:
		return "True"
	case KPRFalse:
		return "False"
	}
	return strings.ToUpper(string(m[:1])) + string(m[1:])
}

// Routing is the effective routing mode.
type Routing struct {
	Tunnel   bool
	Protocol string // "vxlan" or "geneve" when Tunnel
	// Encap is the protocol of an overlay device the node has: Protocol
	// in tunnel routing, else tunnel-protocol (VXLAN by default), used
	// when a feature needs the device in native routing.
	Encap string
}

// Routing derives the routing mode from tunnel (up to 1.14) or
// routing-mode/tunnel-protocol (1.14 on); the default is a VXLAN tunnel, as
// in Cilium. When a 1.14 configuration has both, tunnel decides (routing-mode
// may then only be its default, tunnel; Resolve reports the rest).
func (c Config) Routing() Routing {
	r := Routing{Tunnel: true, Protocol: "vxlan"}
	if c.IsSet("routing-mode") {
		r.Tunnel = c.Get("routing-mode") == "tunnel"
	}
	if c.IsSet("tunnel-protocol") {
		r.Protocol = c.Get("tunnel-protocol")
	}
	if c.IsSet("tunnel") {
		switch t := c.Get("tunnel"); t {
		case "disabled":
			r.Tunnel = false
		default:
			r.Tunnel, r.Protocol = true, t
		}
	}
	r.Encap = r.Protocol
	if !r.Tunnel {
		r.Protocol = ""
	}
	return r
}
