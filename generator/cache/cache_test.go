package cache

import "testing"

func TestDefaultDir(t *testing.T) {
	t.Setenv("DPFORGE_CACHE_DIR", "/x/dp")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	for _, tc := range []struct{ unset, want string }{
		{"", "/x/dp"},
		{"DPFORGE_CACHE_DIR", "/xdg/dpforge"},
		{"XDG_CACHE_HOME", "/home/u/.cache/dpforge"},
	} {
		if tc.unset != "" {
			t.Setenv(tc.unset, "")
		}
		got, err := DefaultDir()
		if err != nil || got != tc.want {
			t.Errorf("after unsetting %q: DefaultDir() = %q, %v; want %q", tc.unset, got, err, tc.want)
		}
	}
}
