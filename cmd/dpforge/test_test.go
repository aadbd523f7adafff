package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: running packets through BPF programs needs root; run the tests as root (CI does)")
	}
}

// TestScenariosOnDefaultMatrix runs every scenario of testdata/scenarios on
// every default-matrix variant it applies to: all must pass, and every
// scenario must apply somewhere.
func TestScenariosOnDefaultMatrix(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	t.Setenv("DPFORGE_CACHE_DIR", filepath.Join(dir, "cache"))
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "--out", filepath.Join(dir, "out"), "--scenarios", "../../testdata/scenarios", "-o", "json"}, &stdout, &stderr)
	var got struct {
		Results []testResult `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("exit %d: output is not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	for _, r := range got.Results {
		if r.Status != "pass" {
			t.Errorf("%s on %s: %s\n%s", r.Scenario, r.Variant, r.Error, strings.Join(r.Failures, "\n"))
		}
	}
	if code != 0 || strings.Contains(stderr.String(), "applies to no variant") {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
	if len(got.Results) < 100 {
		t.Errorf("only %d scenario runs", len(got.Results))
	}
	t.Logf("%d scenario runs passed", len(got.Results))
}

// TestScenarioFailureIsReported proves a wrong expectation fails the run
// with a readable difference.
func TestScenarioFailureIsReported(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	t.Setenv("DPFORGE_CACHE_DIR", filepath.Join(dir, "cache"))
	src, err := os.ReadFile("../../testdata/scenarios/ttl-expired.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(src), "TC_ACT_SHOT", "TC_ACT_OK", 1)
	if wrong == string(src) {
		t.Fatal("ttl-expired.yaml no longer expects TC_ACT_SHOT; update this test")
	}
	path := filepath.Join(dir, "wrong.yaml")
	os.WriteFile(path, []byte(wrong), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "--out", filepath.Join(dir, "out"), path}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "FAIL ttl-expired") || !strings.Contains(stdout.String(), "verdict") {
		t.Errorf("report lacks the failure:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}
