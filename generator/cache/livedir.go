package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Temporary directories of a run (a build's compile directories, a staged
// output directory) are held by an exclusive flock on the directory itself
// for the run's life. The kernel drops the lock when the holder dies, even by
// SIGKILL, so "this directory's flock can be taken" means "its run is dead":
// liveness without guessing from process ids or ages.
//
// A directory is created under a hidden name, locked, and only then renamed
// to its visible name, so a visible directory is never seen unlocked while
// its run lives.

// newPrefix marks a live directory not yet renamed to its visible name.
const newPrefix = ".dpforge-new-"

// staleNewAge: a hidden new directory exists for microseconds (mkdir, open,
// flock, rename); one older than this was left by a run killed in between.
const staleNewAge = time.Hour

// LiveDir is a temporary directory held by its run.
type LiveDir struct {
	Path string
	f    *os.File
}

// MkdirLive creates a directory named prefix + a random suffix in parent
// (os.TempDir() if empty) and holds it until Release.
func MkdirLive(parent, prefix string) (*LiveDir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	tmp, err := os.MkdirTemp(parent, newPrefix+prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	final := filepath.Join(parent, strings.TrimPrefix(filepath.Base(tmp), newPrefix))
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	return &LiveDir{Path: final, f: f}, nil
}

// Release gives the directory up without removing it (it may have been
// renamed into place); RemoveDead will remove it if it is still there.
func (d *LiveDir) Release() {
	d.f.Close()
}

// Remove removes the directory and releases it.
func (d *LiveDir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.f.Close()
	return err
}

// RemoveDead removes the directories named prefix* in parent (os.TempDir()
// if empty) whose runs are dead, and returns how many it removed. Errors are
// ignored: what cannot be removed now is tried again by the next run.
func RemoveDead(parent, prefix string) int {
	return removeDead(parent, prefix, false)
}

// RemoveDeadExclusive is RemoveDead for a caller holding a lock that
// excludes every other creator of prefix* in parent: then a directory still
// under its hidden creation name is a dead run's too, whatever its age.
func RemoveDeadExclusive(parent, prefix string) int {
	return removeDead(parent, prefix, true)
}

func removeDead(parent, prefix string, exclusive bool) int {
	if parent == "" {
		parent = os.TempDir()
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(parent, name)
		switch {
		case strings.HasPrefix(name, prefix):
			if removeIfDead(p) {
				removed++
			}
		case strings.HasPrefix(name, newPrefix+prefix):
			if info, err := e.Info(); err == nil && (exclusive || time.Since(info.ModTime()) > staleNewAge) && removeIfDead(p) {
				removed++
			}
		}
	}
	return removed
}

// removeIfDead removes dir if no live run holds it.
func removeIfDead(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false // held (EWOULDBLOCK): its run is alive
	}
	return os.RemoveAll(dir) == nil
}
