package build

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
)

// Program describes one program of an object.
type Program struct {
	Name string
	// Type as printed by cilium/ebpf, e.g. "SchedCLS".
	Type    string
	Section string
}

// Map describes one map of an object. Internal maps (.rodata, .bss, ...) are
// left out; their contents are listed as variables.
type Map struct {
	Name                           string
	Type                           string
	KeySize, ValueSize, MaxEntries uint32
}

// api is what the loader relies on: the names, sorted.
type api struct {
	Programs  []Program
	Maps      []Map
	Variables []string
}

// inspect parses an object without touching the kernel.
func inspect(obj []byte) (*ebpf.CollectionSpec, *api, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing object: %w", err)
	}
	a := &api{}
	for name, p := range spec.Programs {
		a.Programs = append(a.Programs, Program{Name: name, Type: p.Type.String(), Section: p.SectionName})
	}
	for name, m := range spec.Maps {
		if strings.HasPrefix(name, ".") {
			continue
		}
		a.Maps = append(a.Maps, Map{Name: name, Type: m.Type.String(), KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries})
	}
	for name := range spec.Variables {
		a.Variables = append(a.Variables, name)
	}
	slices.SortFunc(a.Programs, func(x, y Program) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(a.Maps, func(x, y Map) int { return strings.Compare(x.Name, y.Name) })
	slices.Sort(a.Variables)
	return spec, a, nil
}

// names returns the API as "kind name" strings: what must be equal across
// variants. Sizes may differ (a define may size a map); names and program
// types may not.
func (a *api) names() []string {
	var out []string
	for _, p := range a.Programs {
		out = append(out, fmt.Sprintf("program %s (%s)", p.Name, p.Type))
	}
	for _, m := range a.Maps {
		out = append(out, "map "+m.Name)
	}
	for _, v := range a.Variables {
		out = append(out, "variable "+v)
	}
	slices.Sort(out)
	return out
}

// checkAPI compares every variant with the first (results sorted by ID).
func checkAPI(results []VariantResult) []error {
	if len(results) < 2 {
		return nil
	}
	ref := &results[0]
	refNames := ref.api().names()
	var errs []error
	for i := 1; i < len(results); i++ {
		v := &results[i]
		names := v.api().names()
		missing, extra := diffSorted(refNames, names)
		if len(missing) > 0 || len(extra) > 0 {
			errs = append(errs, &APIMismatchError{Variant: v.ID, Reference: ref.ID, Missing: missing, Extra: extra})
		}
	}
	return errs
}

// diffSorted returns the elements only in a and only in b.
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}
