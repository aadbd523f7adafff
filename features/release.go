package features

import (
	"fmt"
	"strconv"
	"strings"
)

// Release is a Cilium minor release, such as 1.14. Patch releases do not
// change the rules dpforge models, so "1.14.3" is release 1.14.
type Release struct {
	Major, Minor int
}

// R is shorthand for a Release literal.
func R(major, minor int) Release { return Release{major, minor} }

// Releases are the Cilium minor releases dpforge models, oldest first. A
// configuration is judged as the release it names (cilium-version), or as
// Newest.
var Releases = []Release{R(1, 12), R(1, 13), R(1, 14), R(1, 15), R(1, 16), R(1, 17), R(1, 18), R(1, 19), R(1, 20)}

// Newest is the newest modeled release, the default: the registry's newest.
var Newest = Releases[len(Releases)-1]

// ParseRelease reads "1.14", "1.14.3", "v1.14.3" or "1.14.3-rc.1" and
// checks that dpforge models the release.
func ParseRelease(s string) (Release, error) {
	raw := s
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+@"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Release{}, fmt.Errorf("cilium version %q: want 1.MINOR[.PATCH]", raw)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" {
			return Release{}, fmt.Errorf("cilium version %q: %q is not a number", raw, p)
		}
		n[i] = v
	}
	r := Release{n[0], n[1]}
	if !r.Modeled() {
		return Release{}, fmt.Errorf("cilium version %q: dpforge models Cilium %s to %s", raw, Releases[0], Newest)
	}
	return r, nil
}

// Modeled reports whether r is one of Releases.
func (r Release) Modeled() bool {
	for _, m := range Releases {
		if m == r {
			return true
		}
	}
	return false
}

// Compare returns -1, 0 or +1.
func (r Release) Compare(o Release) int {
	switch {
	case r.Major != o.Major:
		return sign(r.Major - o.Major)
	default:
		return sign(r.Minor - o.Minor)
	}
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

// AtLeast reports whether r >= o.
func (r Release) AtLeast(o Release) bool { return r.Compare(o) >= 0 }

// IsZero reports whether r is unset.
func (r Release) IsZero() bool { return r == Release{} }

func (r Release) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// ReleaseOption is the key that names the Cilium release in a matrix
// (defaults, a node's config, or a matrix axis). It is dpforge's own key,
// not a Cilium option.
const ReleaseOption = "cilium-version"

// Release returns the release the configuration names, and whether it named
// one; otherwise Newest.
func (c Config) Release() (Release, bool) {
	if v, ok := c[ReleaseOption]; ok {
		if r, err := ParseRelease(v); err == nil {
			return r, true
		}
	}
	return Newest, false
}
