package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoveDead(t *testing.T) {
	parent := t.TempDir()
	const prefix = "dpforge-test-"
	live, err := MkdirLive(parent, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	if !strings.HasPrefix(filepath.Base(live.Path), prefix) {
		t.Fatalf("live directory %s not named %s*", live.Path, prefix)
	}
	// What a run killed by SIGKILL leaves: its directory, with the kernel's
	// flock gone with the process.
	dead := filepath.Join(parent, prefix+"killed")
	os.MkdirAll(filepath.Join(dead, "0", "src"), 0o755)
	oldNew := filepath.Join(parent, newPrefix+prefix+"old")
	os.Mkdir(oldNew, 0o755)
	past := time.Now().Add(-2 * staleNewAge)
	os.Chtimes(oldNew, past, past)
	youngNew := filepath.Join(parent, newPrefix+prefix+"young")
	os.Mkdir(youngNew, 0o755)
	other := filepath.Join(parent, "unrelated")
	os.Mkdir(other, 0o755)

	if n := RemoveDead(parent, prefix); n != 2 {
		t.Errorf("RemoveDead removed %d, want 2 (the dead one and the old hidden one)", n)
	}
	for _, p := range []string{live.Path, youngNew, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	for _, p := range []string{dead, oldNew} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not removed", p)
		}
	}
	// Released, the directory is dead too.
	live.Release()
	if n := RemoveDead(parent, prefix); n != 1 {
		t.Errorf("after Release: removed %d, want 1", n)
	}
}
