package compile

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkBuild builds the fixture's three variants: cold (empty cache and
// output directory every iteration) and cached (a no-op rebuild).
func BenchmarkBuild(b *testing.B) {
	jobs := fixtureJobs(b)
	b.Run("cold", func(b *testing.B) {
		root := b.TempDir()
		for i := 0; b.Loop(); i++ {
			d := dirs{
				out:   filepath.Join(root, fmt.Sprint(i), "out"),
				cache: filepath.Join(root, fmt.Sprint(i), "cache"),
				work:  filepath.Join(root, fmt.Sprint(i), "work"),
			}
			res, err := Build(context.Background(), jobs, d.options())
			if err != nil || res.Compiled != len(jobs) {
				b.Fatalf("cold build: %v (compiled %d)", err, res.Compiled)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		d := newDirs(b)
		mustBuild(b, jobs, d.options())
		for b.Loop() {
			res, err := Build(context.Background(), jobs, d.options())
			if err != nil || res.CacheHits != len(jobs) {
				b.Fatalf("cached build: %v (hits %d)", err, res.CacheHits)
			}
		}
	})
}
