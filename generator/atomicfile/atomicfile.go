// Package atomicfile writes files so that a reader, or a process killed at
// any moment, never sees a half-written one: data goes to a temporary file in
// the same directory, is synced, and is renamed over the target.
package atomicfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tempPrefix marks temporary files, so leftovers of a killed run can be
// recognised and removed.
const tempPrefix = ".dpforge-tmp-"

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := stage(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return nil
}

func stage(path string, data []byte, perm os.FileMode) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, perm)
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return name, nil
}

// WriteFiles writes a set of files under dir: all are staged first and only
// renamed into place when every one was written, so a failure leaves the
// previous files untouched. Names are slash paths relative to dir and must
// stay inside it.
func WriteFiles(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		if !Local(n) {
			return fmt.Errorf("refusing to write %q outside %s", n, dir)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	staged := make(map[string]string, len(names))
	cleanup := func() {
		for _, t := range staged {
			os.Remove(t)
		}
	}
	for _, n := range names {
		t, err := stage(filepath.Join(dir, filepath.FromSlash(n)), files[n], 0o644)
		if err != nil {
			cleanup()
			return err
		}
		staged[n] = t
	}
	for _, n := range names {
		if err := os.Rename(staged[n], filepath.Join(dir, filepath.FromSlash(n))); err != nil {
			cleanup()
			return fmt.Errorf("renaming into %s: %w", n, err)
		}
		delete(staged, n)
	}
	return nil
}

// Local reports whether a slash path is relative and stays inside its root.
func Local(name string) bool {
	return filepath.IsLocal(filepath.FromSlash(name)) && !strings.Contains(name, "\\")
}

// IsTemp reports whether a file name is one of our temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(filepath.Base(name), tempPrefix) }

// WriteFileIfChanged replaces path atomically (a temporary file in the same
// directory, synced and renamed), skipped when path already holds data, so a
// no-op build keeps modification times (and go build's and make's view of
// them) unchanged.
func WriteFileIfChanged(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return WriteFile(path, data, perm)
}
