package features

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a kernel version, major.minor.patch. Distribution suffixes such as
// "-305.el8.x86_64" are not part of it: the model reasons about upstream
// version numbers and leaves backports to probed profiles.
type Version struct {
	Major, Minor, Patch int
}

// V is shorthand for a Version literal.
func V(major, minor, patch int) Version { return Version{major, minor, patch} }

// ParseVersion parses "4.19.232", "5.10" or "4.18.0-305.el8.x86_64".
// Versions that no Linux kernel has carried (major outside 2..9, minor or
// patch out of range) are rejected, so that a typo such as "510" or "5.100"
// is an error rather than a silently impossible kernel.
func ParseVersion(s string) (Version, error) {
	raw := s
	if i := strings.IndexAny(s, "-+~ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if s == "" || len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR[.PATCH]", raw)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("kernel version %q: %q is not a number", raw, p)
		}
		n[i] = v
	}
	v := Version{n[0], n[1], n[2]}
	switch {
	case v.Major < 2 || v.Major > 9:
		return Version{}, fmt.Errorf("kernel version %q: no Linux kernel has major version %d", raw, v.Major)
	case v.Minor > 99:
		return Version{}, fmt.Errorf("kernel version %q: minor version %d is out of range", raw, v.Minor)
	case v.Patch > 9999:
		return Version{}, fmt.Errorf("kernel version %q: patch level %d is out of range", raw, v.Patch)
	}
	return v, nil
}

// MustVersion parses a version known to be valid, for tables.
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Compare returns -1, 0 or +1.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool { return v.Compare(o) >= 0 }

// IsZero reports whether v is unset.
func (v Version) IsZero() bool { return v == Version{} }

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Short is the version without a zero patch level, as Cilium's documents
// write it ("5.10", "4.19.57").
func (v Version) Short() string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return v.String()
}
