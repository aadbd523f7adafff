package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestToolOutputRemembered(t *testing.T) {
	c := New(t.TempDir())
	tool := filepath.Join(t.TempDir(), "cc")
	install := func(content string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(tool, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		then := time.Now().Add(-age)
		if err := os.Chtimes(tool, then, then); err != nil {
			t.Fatal(err)
		}
	}
	runs := 0
	version := func(v string) func() (string, error) {
		return func() (string, error) { runs++; return v, nil }
	}
	get := func(v string) string {
		t.Helper()
		out, err := c.ToolOutput(tool, []string{"--version"}, version(v))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	install("clang 19", time.Hour)
	if got := get("19.1"); got != "19.1" || runs != 1 {
		t.Fatalf("first: %q after %d runs", got, runs)
	}
	if got := get("not asked"); got != "19.1" || runs != 1 {
		t.Fatalf("remembered: %q after %d runs, want 19.1 without running", got, runs)
	}
	// A symlink to the same file is the same tool.
	link := filepath.Join(t.TempDir(), "clang")
	os.Symlink(tool, link)
	if out, _ := c.ToolOutput(link, []string{"--version"}, version("not asked")); out != "19.1" || runs != 1 {
		t.Fatalf("through a symlink: %q after %d runs", out, runs)
	}
	// Other arguments are another question.
	if out, _ := c.ToolOutput(tool, []string{"-dumpversion"}, version("19")); out != "19" || runs != 2 {
		t.Fatalf("other arguments: %q after %d runs", out, runs)
	}
	// An upgrade (new size and time) is asked again.
	install("clang 19.1.7", 30*time.Minute)
	if got := get("19.1.7"); got != "19.1.7" || runs != 3 {
		t.Fatalf("after an upgrade: %q after %d runs", got, runs)
	}
	// A file modified just now is not trusted yet: asked every time.
	install("clang 20", 0)
	get("20")
	get("20")
	if runs != 5 {
		t.Fatalf("recently modified tool: %d runs, want 5", runs)
	}
	// A failing tool is an error and is not remembered.
	install("broken", 2*time.Hour)
	fail := func() (string, error) { runs++; return "", errors.New("exit status 1") }
	for range 2 {
		if _, err := c.ToolOutput(tool, []string{"--version"}, fail); err == nil {
			t.Fatal("a failing tool gave no error")
		}
	}
	if runs != 7 {
		t.Fatalf("failing tool: %d runs, want 7", runs)
	}
}

// TestToolOutputUnwritableCache: a cache that cannot be written costs the
// memo only.
func TestToolOutputUnwritableCache(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "cache")
	os.WriteFile(blocker, nil, 0o644) // a file where the cache directory should be
	tool := filepath.Join(dir, "cc")
	os.WriteFile(tool, []byte("x"), 0o755)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tool, old, old)
	out, err := New(blocker).ToolOutput(tool, nil, func() (string, error) { return "v", nil })
	if err != nil || out != "v" {
		t.Fatalf("ToolOutput = %q, %v", out, err)
	}
}

func TestDerived(t *testing.T) {
	c := New(t.TempDir())
	key := SHA256Hex([]byte("k"))
	type value struct{ A []string }
	var got value
	if c.GetDerived(key, &got) {
		t.Fatal("hit in an empty cache")
	}
	if err := c.PutDerived(key, value{A: []string{"x", "y"}}); err != nil {
		t.Fatal(err)
	}
	if !c.GetDerived(key, &got) || len(got.A) != 2 || got.A[1] != "y" {
		t.Fatalf("GetDerived = %+v", got)
	}
	// A damaged entry is a miss, not a wrong value.
	path := c.derivedPath(key)
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(raw), `"y"`, `"z"`, 1)), 0o644)
	if c.GetDerived(key, &value{}) {
		t.Fatal("a damaged entry was used")
	}
	os.WriteFile(path, raw[:len(raw)/2], 0o644)
	if c.GetDerived(key, &value{}) {
		t.Fatal("a truncated entry was used")
	}
}
