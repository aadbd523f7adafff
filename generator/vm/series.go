package vm

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dpforge/dpforge/features"
)

// Words that Series accepts besides a series number.
const (
	// SetDefault is the default kernel set: the long-term series of
	// Debian's stable releases (5.10, 6.1, 6.12) and the newest 6.x and
	// 7.x series the package index has.
	SetDefault = "default"
	// SetOldest and SetNewest are the first and last series of the
	// default set.
	SetOldest = "oldest"
	SetNewest = "newest"
)

// fixedSeries are the default set's long-term series: Debian 11, 12 and 13.
var fixedSeries = []string{OldestSeries, "6.1", "6.12"}

// OldestSeries is the oldest kernel series that can be fetched and booted
// here (Debian 11's), the nearest to the kernels before it.
const OldestSeries = "5.10"

// Series expands a list of series and set words (SetDefault, SetOldest,
// SetNewest) into distinct series, in order of version. The words that need
// the package index look it up (under cacheDir, as Fetch does); plain
// series do not.
func Series(ctx context.Context, cacheDir string, args []string) ([]string, error) {
	var out []string
	var defaults []string
	for _, a := range args {
		switch a {
		case SetDefault, SetOldest, SetNewest:
			if defaults == nil {
				d, err := DefaultSeries(ctx, cacheDir)
				if err != nil {
					return nil, err
				}
				defaults = d
			}
			switch a {
			case SetDefault:
				out = append(out, defaults...)
			case SetOldest:
				out = append(out, defaults[0])
			case SetNewest:
				out = append(out, defaults[len(defaults)-1])
			}
		default:
			if !seriesRe.MatchString(a) {
				return nil, fmt.Errorf("kernel series %q: want a series such as 6.1, or %s, %s or %s", a, SetDefault, SetOldest, SetNewest)
			}
			out = append(out, a)
		}
	}
	slices.SortFunc(out, compareSeries)
	return slices.Compact(out), nil
}

// DefaultSeries returns the default kernel set (see SetDefault), resolved
// through the package index: never a fixed package revision.
func DefaultSeries(ctx context.Context, cacheDir string) ([]string, error) {
	all, err := AvailableSeries(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	return defaultSet(all), nil
}

// defaultSet picks the default set out of the available series (sorted).
func defaultSet(all []string) []string {
	out := slices.Clone(fixedSeries)
	for _, major := range []string{"6", "7"} {
		newest := ""
		for _, s := range all {
			if strings.HasPrefix(s, major+".") {
				newest = s
			}
		}
		if newest != "" {
			out = append(out, newest)
		}
	}
	slices.SortFunc(out, compareSeries)
	return slices.Compact(out)
}

// AvailableSeries lists every kernel series of the default flavour in the
// package index, sorted by version.
func AvailableSeries(ctx context.Context, cacheDir string) ([]string, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	a := apt{dir: filepath.Join(cacheDir, "apt")}
	pkgs, err := a.index(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing kernel series: %w", err)
	}
	return seriesOf(pkgs), nil
}

// seriesOf lists the series of the image packages in pkgs.
func seriesOf(pkgs []packageInfo) []string {
	var out []string
	for _, p := range pkgs {
		if _, kind, ok := parsePackageName(p.Name); !ok || kind == kindBase || kind == kindModules {
			continue
		}
		v, err := features.ParseVersion(p.Version)
		if err != nil {
			continue
		}
		out = append(out, fmt.Sprintf("%d.%d", v.Major, v.Minor))
	}
	slices.SortFunc(out, compareSeries)
	return slices.Compact(out)
}

func compareSeries(a, b string) int {
	am, an := splitSeries(a)
	bm, bn := splitSeries(b)
	if am != bm {
		return am - bm
	}
	return an - bn
}

func splitSeries(s string) (int, int) {
	maj, min, _ := strings.Cut(s, ".")
	a, _ := strconv.Atoi(maj)
	b, _ := strconv.Atoi(min)
	return a, b
}
