package features

import "testing"

// The modeled releases are the registry's: the newest is the registry's
// newest, and every release the registry names is modeled.
func TestReleasesMatchRegistry(t *testing.T) {
	if Newest.String() != RegistryNewest {
		t.Errorf("newest modeled release %s, registry's newest %s", Newest, RegistryNewest)
	}
	for _, o := range KnownOptions() {
		for _, r := range []string{o.Added, o.Deprecated, o.Removed} {
			if r == "" {
				continue
			}
			if _, err := ParseRelease(r); err != nil {
				t.Errorf("option %s names release %s: %v", o.Name, r, err)
			}
		}
	}
}

func TestParseRelease(t *testing.T) {
	for in, want := range map[string]string{"1.14": "1.14", "v1.16.3": "1.16", "1.12.0-rc.1": "1.12", "1.20": "1.20"} {
		r, err := ParseRelease(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "1", "1.11", "2.0", "latest", "1.x"} {
		if _, err := ParseRelease(bad); err == nil {
			t.Errorf("ParseRelease(%q): want error", bad)
		}
	}
}

// ValidName is the DNS-1123 label rule, as nameRe writes it.
func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "node-1", "-a", "a-", "A", "a_b", "a.b", "", "0", "ab--cd", "x/y",
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"} {
		if got, want := ValidName(s), len(s) <= 63 && nameRe.MatchString(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}
