package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dpforge/dpforge/generator/atomicfile"
)

// toolsDir holds remembered tool identities, under the cache directory:
//
//	tools/<sha256 of the tool's file identity and arguments>   toolEntry
//
// Running "clang --version" costs tens of milliseconds, most of a no-op
// build. Like Go's build cache does for its tools, the output is remembered
// keyed by what identifies the installed file without reading it: its
// resolved path, size, modification time, inode and device. Replacing or
// upgrading the tool changes at least one of them, and so the key.
const toolsDir = "tools"

// racyWindow: a file modified this recently may still be written to within
// the same modification time, so its identity is not remembered yet.
const racyWindow = 2 * time.Second

// toolEntry is the content of a tools/ file.
type toolEntry struct {
	Format int    `json:"format"`
	Key    string `json:"key"`
	Output string `json:"output"`
}

// ToolOutput returns the output of running the executable at path with args
// (run does that), remembered across builds while the file's identity
// (resolved path, size, modification time, inode, device) stays the same.
// A failure to remember is not an error: the output is still returned.
func (c *Cache) ToolOutput(path string, args []string, run func() (string, error)) (string, error) {
	key, ok := toolKey(path, args)
	if !ok {
		return run()
	}
	file := filepath.Join(c.dir, toolsDir, key)
	if raw, err := os.ReadFile(file); err == nil {
		var e toolEntry
		if json.Unmarshal(raw, &e) == nil && e.Format == Format && e.Key == key {
			return e.Output, nil
		}
	}
	out, err := run()
	if err != nil {
		return "", err
	}
	if data, err := json.Marshal(toolEntry{Format: Format, Key: key, Output: out}); err == nil {
		atomicfile.WriteFile(file, append(data, '\n'), 0o644) // a full cache costs the memo only
	}
	return out, nil
}

// toolKey derives the memo key of a tool file and its arguments; false if
// the file cannot be identified or was modified too recently to trust.
func toolKey(path string, args []string) (string, bool) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", false
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return "", false
	}
	fi, err := os.Stat(resolved)
	if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < racyWindow {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "dpforge-tool %d\npath %q\nsize %d\nmtime %d\ninode %d\ndev %d\n",
		Format, resolved, fi.Size(), fi.ModTime().UnixNano(), st.Ino, st.Dev)
	for _, a := range args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	return hex.EncodeToString(h.Sum(nil)), true
}
