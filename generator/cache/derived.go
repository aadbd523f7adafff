package cache

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/dpforge/dpforge/generator/atomicfile"
)

// derivedDir holds values derived from an object by pure functions (its API
// and Go bindings), under the cache directory:
//
//	derived/<key[:2]>/<key>.json   derivedEntry
//
// Parsing an object and generating its bindings costs more than the rest of
// a no-op build together; keyed by everything they depend on (the object's
// hash, the variant id, the generator's version), they are computed once.
const derivedDir = "derived"

type derivedEntry struct {
	Format int    `json:"format"`
	Key    string `json:"key"`
	// SHA256 is the hash of Value: a damaged entry is a miss, not a wrong
	// value.
	SHA256 string          `json:"sha256"`
	Value  json.RawMessage `json:"value"`
}

func (c *Cache) derivedPath(key string) string {
	return filepath.Join(c.dir, derivedDir, key[:2], key+".json")
}

// GetDerived decodes the value stored under key into v; false if there is
// no valid entry.
func (c *Cache) GetDerived(key string, v any) bool {
	raw, err := os.ReadFile(c.derivedPath(key))
	if err != nil {
		return false
	}
	var e derivedEntry
	if json.Unmarshal(raw, &e) != nil || e.Format != Format || e.Key != key || SHA256Hex(e.Value) != e.SHA256 {
		return false
	}
	return json.Unmarshal(e.Value, v) == nil
}

// PutDerived stores v (JSON-encoded) under key, replacing any entry.
func (c *Cache) PutDerived(key string, v any) error {
	value, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data, err := json.Marshal(derivedEntry{Format: Format, Key: key, SHA256: SHA256Hex(value), Value: value})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(c.derivedPath(key), append(data, '\n'), 0o644)
}
