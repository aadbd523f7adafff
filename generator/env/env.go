// Package env is every environment variable dpforge reads, and the only
// place that reads them:
//
//	DPFORGE_CC         the compiler command, split on spaces ("ccache clang-19" works); default clang-19
//	DPFORGE_STRIP      the strip command; default llvm-strip-19
//	DPFORGE_CACHE_DIR  the object cache; default $XDG_CACHE_HOME/dpforge, else ~/.cache/dpforge
//
// The Makefile exports DPFORGE_CC and DPFORGE_STRIP from its CLANG and
// STRIP variables; tests that drive clang themselves use Compiler too.
package env

import "os"

// Names of the variables, for messages ("set $DPFORGE_CC").
const (
	CCVar       = "DPFORGE_CC"
	StripVar    = "DPFORGE_STRIP"
	CacheDirVar = "DPFORGE_CACHE_DIR"
)

// Defaults of the tools.
const (
	DefaultCC    = "clang-19"
	DefaultStrip = "llvm-strip-19"
)

// Compiler returns $DPFORGE_CC, else DefaultCC.
func Compiler() string { return or(os.Getenv(CCVar), DefaultCC) }

// Strip returns $DPFORGE_STRIP, else DefaultStrip.
func Strip() string { return or(os.Getenv(StripVar), DefaultStrip) }

// CacheDir returns $DPFORGE_CACHE_DIR; empty if unset.
func CacheDir() string { return os.Getenv(CacheDirVar) }

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
