package build

import (
	"bytes"
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
)

// cacheFormat versions the key derivation and the entry layout. Bump it when
// either changes: old entries then simply stop matching.
const cacheFormat = 2

// staleTempAge is how old a temporary file in the cache must be before a
// build removes it. A live build holds its temporary files for milliseconds
// (write, sync, rename); anything older was left by a killed process. The
// cache may be shared by concurrent builds, so younger files are left alone.
const staleTempAge = time.Minute

// The cache layout, under Options.CacheDir:
//
//	<key[:2]>/<key>.o      the stripped object
//	<key[:2]>/<key>.json   cacheEntry: the object's sha256 and size, and the
//	                       system headers the compile read, with their sha256
//
// Every file is written with generator/atomicfile (temporary file in the
// same directory, synced, renamed). The .json is written last and is the
// commit record: an object without it
// is not an entry. Sharding by the first byte keeps directories small.
type cache struct {
	dir string
}

// cacheEntry is the content of <key>.json.
type cacheEntry struct {
	Format int        `json:"format"`
	Key    string     `json:"key"`
	SHA256 string     `json:"object_sha256"`
	Size   int64      `json:"size"`
	Deps   []cacheDep `json:"deps"`
}

// cacheDep is a file outside the source tree the compile read.
type cacheDep struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

func (c *cache) paths(key string) (obj, meta string) {
	shard := filepath.Join(c.dir, key[:2])
	return filepath.Join(shard, key+".o"), filepath.Join(shard, key+".json")
}

// get returns the object of key if there is a valid entry. Otherwise it
// returns a nil object and the reason (for Event and VariantResult).
func (c *cache) get(key string, files *fileHasher) (obj []byte, miss string, err error) {
	objPath, metaPath := c.paths(key)
	c.cleanTemps(filepath.Dir(objPath))
	raw, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "not cached", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading cache entry: %w", err)
	}
	var e cacheEntry
	if err := json.Unmarshal(raw, &e); err != nil || e.Format != cacheFormat || e.Key != key {
		return nil, "corrupt cache entry (bad record)", nil
	}
	obj, err = os.ReadFile(objPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "corrupt cache entry (object missing)", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading cache entry: %w", err)
	}
	if int64(len(obj)) != e.Size || sha256Hex(obj) != e.SHA256 {
		return nil, "corrupt cache entry (object hash mismatch)", nil
	}
	for _, d := range e.Deps {
		if sum, err := files.sum(d.Path); err != nil || sum != d.SHA256 {
			return nil, fmt.Sprintf("dependency %s changed", d.Path), nil
		}
	}
	return obj, "", nil
}

// put stores obj under key, replacing any entry. The object is renamed into
// place before the record that makes it valid.
func (c *cache) put(key string, obj []byte, deps []cacheDep) error {
	objPath, metaPath := c.paths(key)
	if err := os.MkdirAll(filepath.Dir(objPath), 0o755); err != nil {
		return fmt.Errorf("storing cache entry: %w", err)
	}
	meta, err := json.MarshalIndent(cacheEntry{
		Format: cacheFormat,
		Key:    key,
		SHA256: sha256Hex(obj),
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
func (c *cache) cleanTemps(dir string) {
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

// fileHasher hashes files outside the source tree at most once per Build.
type fileHasher struct {
	mu   sync.Mutex
	sums map[string]string
}

func (h *fileHasher) sum(path string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.sums[path]; ok {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256Hex(data)
	if h.sums == nil {
		h.sums = map[string]string{}
	}
	h.sums[path] = s
	return s, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeFileIfChanged replaces path atomically (a temporary file in the same
// directory, synced and renamed), skipped when path already holds data, so a
// no-op build keeps modification times (and go build's and make's view of
// them) unchanged.
func writeFileIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return atomicfile.WriteFile(path, data, 0o644)
}
