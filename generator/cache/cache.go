package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/env"
)

// Format versions the key derivation and the entry layout. Bump it when
// either changes: old entries then simply stop matching.
const Format = 2

// staleTempAge is how old a temporary file in the cache must be before a
// build removes it. A live build holds its temporary files for milliseconds
// (write, sync, rename); anything older was left by a killed process. The
// cache may be shared by concurrent builds, so younger files are left alone.
const staleTempAge = time.Minute

// Cache is a content-addressed store of compiled objects. Its layout:
//
//	<key[:2]>/<key>.o      the stripped object
//	<key[:2]>/<key>.json   entry: the object's sha256 and size, and the
//	                       system headers the compile read, with their sha256
//	tools/<key>            a tool's remembered --version output (tool.go)
//	derived/<k[:2]>/<k>.json  an object's API and bindings (derived.go)
//
// Every file is written with generator/atomicfile (temporary file in the
// same directory, synced, renamed). The .json is written last and is the
// commit record: an object without it is not an entry. Sharding by the first byte keeps directories small.
type Cache struct {
	dir string
}

// New returns the cache in dir.
func New(dir string) *Cache { return &Cache{dir: dir} }

// entry is the content of <key>.json.
type entry struct {
	Format int    `json:"format"`
	Key    string `json:"key"`
	SHA256 string `json:"object_sha256"`
	Size   int64  `json:"size"`
	Deps   []Dep  `json:"deps"`
}

// Dep is a file outside the source tree the compile read.
type Dep struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Paths returns where the object and the record of key live.
func (c *Cache) Paths(key string) (obj, meta string) {
	shard := filepath.Join(c.dir, key[:2])
	return filepath.Join(shard, key+".o"), filepath.Join(shard, key+".json")
}

// Get returns the object of key if there is a valid entry. Otherwise it
// returns a nil object and the reason (for Event and VariantResult).
func (c *Cache) Get(key string, files *FileHasher) (obj []byte, miss string) {
	objPath, metaPath := c.Paths(key)
	c.cleanTemps(filepath.Dir(objPath))
	raw, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "not cached"
	}
	if err != nil {
		// An unreadable cache costs caching, not the build.
		return nil, fmt.Sprintf("unreadable cache entry (%v)", err)
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil || e.Format != Format || e.Key != key {
		return nil, "corrupt cache entry (bad record)"
	}
	obj, err = os.ReadFile(objPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "corrupt cache entry (object missing)"
	}
	if err != nil {
		return nil, fmt.Sprintf("unreadable cache entry (%v)", err)
	}
	if int64(len(obj)) != e.Size || SHA256Hex(obj) != e.SHA256 {
		return nil, "corrupt cache entry (object hash mismatch)"
	}
	for _, d := range e.Deps {
		if sum, err := files.Sum(d.Path); err != nil || sum != d.SHA256 {
			return nil, fmt.Sprintf("dependency %s changed", d.Path)
		}
	}
	return obj, ""
}

// Put stores obj under key, replacing any entry. The object is renamed into
// place before the record that makes it valid.
func (c *Cache) Put(key string, obj []byte, deps []Dep) error {
	objPath, metaPath := c.Paths(key)
	if err := os.MkdirAll(filepath.Dir(objPath), 0o755); err != nil {
		return fmt.Errorf("storing cache entry: %w", err)
	}
	meta, err := json.MarshalIndent(entry{
		Format: Format,
		Key:    key,
		SHA256: SHA256Hex(obj),
		Size:   int64(len(obj)),
		Deps:   deps,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("storing cache entry: %w", err)
	}
	if err := atomicfile.WriteFile(objPath, obj, 0o644); err != nil {
		return fmt.Errorf("storing cache entry: %w", err)
	}
	if err := atomicfile.WriteFile(metaPath, append(meta, '\n'), 0o644); err != nil {
		return fmt.Errorf("storing cache entry: %w", err)
	}
	return nil
}

// cleanTemps removes temporary files older than staleTempAge from one shard.
// Errors are ignored: a leftover temporary file is never read.
func (c *Cache) cleanTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !atomicfile.IsTemp(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTempAge {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// FileHasher hashes files outside the source tree at most once per build.
type FileHasher struct {
	mu   sync.Mutex
	sums map[string]string
}

func (h *FileHasher) Sum(path string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.sums[path]; ok {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := SHA256Hex(data)
	if h.sums == nil {
		h.sums = map[string]string{}
	}
	h.sums[path] = s
	return s, nil
}

// SHA256Hex is the hex sha256 of b, the form every hash takes in cache
// records and the manifest.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DefaultDir returns $DPFORGE_CACHE_DIR if set, else
// $XDG_CACHE_HOME/dpforge, else ~/.cache/dpforge.
func DefaultDir() (string, error) {
	if dir := env.CacheDir(); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory (set $DPFORGE_CACHE_DIR): %w", err)
	}
	return filepath.Join(dir, "dpforge"), nil
}
