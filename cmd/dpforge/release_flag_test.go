package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// Every command that resolves a matrix takes --cilium-version and checks it
// when parsing flags: a release dpforge does not model is a usage error, a
// modeled one is accepted.
func TestReleaseFlagEverywhere(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, cmd := range [][]string{
		{"validate", missing}, {"explain", missing}, {"gen", "--out", t.TempDir(), missing},
		{"build", "-f", missing, "--out", t.TempDir()}, {"test", "-f", missing, "--scenarios", t.TempDir()},
	} {
		var stdout, stderr bytes.Buffer
		bad := append([]string{cmd[0], "--cilium-version", "1.9"}, cmd[1:]...)
		if code := run(bad, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
		good := append([]string{cmd[0], "--cilium-version", "v1.14.3"}, cmd[1:]...)
		if code := run(good, &stdout, &stderr); code == exitUsage {
			t.Errorf("%v: a usage error:\n%s", good, stderr.String())
		}
	}
}
