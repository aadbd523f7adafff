package compile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/cache"
)

const (
	// objectsDir and bindingsDir hold the objects and the bindings module.
	objectsDir  = "objects"
	bindingsDir = "bindings"
	// outputsList names, one per line, every file Build wrote in OutDir.
	// The next Build removes those it no longer writes, and only those: a
	// file dpforge did not write is never deleted.
	outputsList = ".dpforge-outputs"
	// lockName serializes Builds writing the same OutDir.
	lockName = ".dpforge-lock"
)

// writeOutputs makes OutDir hold exactly files (relative slash paths → bytes)
// among the files dpforge manages.
//
// The list is written as a journal: first the union of the old and new
// names, then the files, then stale files are removed and the list is
// replaced by the new names. A build killed at any point leaves a list that
// names every file dpforge may have written, so the next build still cleans
// up; a file it killed halfway is a temporary file, removed below.
func writeOutputs(outDir string, files map[string][]byte) (err error) {
	wrap := func(err error) error { return fmt.Errorf("writing outputs to %s: %w", outDir, err) }
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return wrap(err)
	}
	unlock, err := cache.Lock(context.Background(), filepath.Join(outDir, lockName))
	if err != nil {
		return wrap(err)
	}
	defer unlock()

	// Under the lock nobody else writes here, so every temporary file of
	// ours is a leftover of a killed build, whatever its age.
	removeTemps(filepath.Join(outDir, objectsDir), true)
	removeTemps(filepath.Join(outDir, bindingsDir), true)
	removeTemps(outDir, false)

	listPath := filepath.Join(outDir, outputsList)
	old, err := readList(listPath)
	if err != nil {
		return wrap(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)

	union := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(old), names...))))
	if err := writeList(listPath, union); err != nil {
		return wrap(err)
	}
	for _, name := range names {
		if err := atomicfile.WriteFileIfChanged(filepath.Join(outDir, filepath.FromSlash(name)), files[name], 0o644); err != nil {
			return wrap(err)
		}
	}
	var errs []error
	for _, name := range old {
		if _, keep := files[name]; keep {
			continue
		}
		p := filepath.Join(outDir, filepath.FromSlash(name))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		pruneEmptyDirs(outDir, filepath.Dir(p))
	}
	if err := errors.Join(errs...); err != nil {
		return wrap(err)
	}
	if err := writeList(listPath, names); err != nil {
		return wrap(err)
	}
	return nil
}

func readList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(string(data)) {
		name := strings.TrimSpace(line)
		// Never follow a list entry out of OutDir.
		if name == "" || !fs.ValidPath(name) {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

func writeList(path string, names []string) error {
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return atomicfile.WriteFileIfChanged(path, b.Bytes(), 0o644)
}

// removeTemps removes dpforge's temporary files (atomicfile.IsTemp) in dir,
// and below it if recursive.
func removeTemps(dir string, recursive bool) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != dir && !recursive {
			return fs.SkipDir
		}
		if !d.IsDir() && atomicfile.IsTemp(d.Name()) {
			os.Remove(p)
		}
		return nil
	})
}

// pruneEmptyDirs removes dir and its parents while they are empty, stopping
// at root.
func pruneEmptyDirs(root, dir string) {
	root = filepath.Clean(root)
	for dir = filepath.Clean(dir); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // fails unless empty
			return
		}
	}
}
