package features

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// OptionInfo is one key of the Cilium option registry: a name the
// cilium-config ConfigMap can carry, who reads it, and the Cilium minor
// releases ("1.14") in which it was added, deprecated and removed. An empty
// release is unknown (or, for Deprecated and Removed, not yet). Note says
// where the key was seen and what is uncertain.
type OptionInfo struct {
	Name, Component, Added, Deprecated, Removed, Note string
}

// ExistsIn reports whether the option exists in Cilium release minor (e.g.
// "1.14"): Added <= minor and (Removed == "" or minor < Removed). A minor
// that is not of the form MAJOR.MINOR exists in no release.
func (o OptionInfo) ExistsIn(minor string) bool {
	m, ok := parseMinor(minor)
	if !ok {
		return false
	}
	if a, ok := parseMinor(o.Added); ok && m.less(a) {
		return false
	}
	if r, ok := parseMinor(o.Removed); ok && !m.less(r) {
		return false
	}
	return true
}

// LookupOption returns the registry entry of name.
func LookupOption(name string) (OptionInfo, bool) {
	r := loadRegistry()
	i := sort.Search(len(r), func(i int) bool { return r[i].Name >= name })
	if i < len(r) && r[i].Name == name {
		return r[i], true
	}
	return OptionInfo{}, false
}

// KnownOptions returns every registry entry, sorted by name. The slice is a
// copy; callers may change it.
func KnownOptions() []OptionInfo {
	return append([]OptionInfo(nil), loadRegistry()...)
}

// RegistryNewest is the newest Cilium minor release the registry covers.
const RegistryNewest = "1.20"

// ciliumOptionsTSV is the registry's data; its header says where every
// release's keys were read from.
//
//go:embed options/cilium-options.tsv
var ciliumOptionsTSV string

var loadRegistry = sync.OnceValue(func() []OptionInfo {
	r, err := parseRegistry(ciliumOptionsTSV)
	if err != nil {
		// The data is compiled in and checked by TestRegistryData; a
		// malformed file is a build defect, not an input problem.
		panic(fmt.Sprintf("features: embedded option registry: %v", err))
	}
	return r
})

// parseRegistry reads the registry format: '#' comment lines, then one
// option a line with six tab-separated fields, sorted by name, unique.
func parseRegistry(data string) ([]OptionInfo, error) {
	var out []OptionInfo
	for i, line := range strings.Split(data, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6", i+1, len(f))
		}
		o := OptionInfo{Name: f[0], Component: f[1], Added: f[2], Deprecated: f[3], Removed: f[4], Note: f[5]}
		if !nameRe.MatchString(o.Name) {
			return nil, fmt.Errorf("line %d: option name %q is not kebab-case", i+1, o.Name)
		}
		switch o.Component {
		case "agent", "operator", "hubble", "clustermesh", "cni":
		default:
			return nil, fmt.Errorf("line %d: option %q: unknown component %q", i+1, o.Name, o.Component)
		}
		for _, rel := range []string{o.Added, o.Deprecated, o.Removed} {
			if _, ok := parseMinor(rel); rel != "" && !ok {
				return nil, fmt.Errorf("line %d: option %q: release %q is not MAJOR.MINOR", i+1, o.Name, rel)
			}
		}
		if a, ok := parseMinor(o.Added); ok {
			if r, ok := parseMinor(o.Removed); ok && !a.less(r) {
				return nil, fmt.Errorf("line %d: option %q: removed in %s, not after it was added in %s", i+1, o.Name, o.Removed, o.Added)
			}
		}
		if n := len(out); n > 0 && out[n-1].Name >= o.Name {
			return nil, fmt.Errorf("line %d: option %q is out of order or repeated after %q", i+1, o.Name, out[n-1].Name)
		}
		out = append(out, o)
	}
	return out, nil
}

// minorRelease is a Cilium MAJOR.MINOR.
type minorRelease struct{ major, minor int }

func (a minorRelease) less(b minorRelease) bool {
	return a.major < b.major || a.major == b.major && a.minor < b.minor
}

// parseMinor parses "1.14"; a patch ("1.14.3") is not accepted here.
func parseMinor(s string) (minorRelease, bool) {
	maj, min, ok := strings.Cut(s, ".")
	if !ok {
		return minorRelease{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 || strconv.Itoa(a) != maj || strconv.Itoa(b) != min {
		return minorRelease{}, false
	}
	return minorRelease{a, b}, true
}
