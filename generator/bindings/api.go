package bindings

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf/loader"
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

// API is what the loader relies on: the names, sorted.
type API struct {
	Programs  []Program
	Maps      []Map
	Variables []string
}

// Inspect parses an object without touching the kernel and returns its
// spec and API.
func Inspect(obj []byte) (*ebpf.CollectionSpec, *API, error) {
	spec, err := loader.ParseSpec(obj)
	if err != nil {
		return nil, nil, err
	}
	a := &API{}
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
func (a *API) names() []string {
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

// Check compares the API of every variant with the first one's: ids[i]
// names apis[i] and types[i] (its Types file), sorted by id. It returns an
// *APIMismatchError per variant whose names differ, else a
// *TypesMismatchError if its Go types differ.
func Check(ids []string, apis []*API, types [][]byte) []error {
	if len(apis) < 2 {
		return nil
	}
	refNames := apis[0].names()
	var errs []error
	for i := 1; i < len(apis); i++ {
		names := apis[i].names()
		missing, extra := diffSorted(refNames, names)
		switch {
		case len(missing) > 0 || len(extra) > 0:
			errs = append(errs, &APIMismatchError{Variant: ids[i], Reference: ids[0], Missing: missing, Extra: extra})
		case !bytes.Equal(types[0], types[i]):
			errs = append(errs, &TypesMismatchError{Variant: ids[i], Reference: ids[0]})
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

// APIMismatchError reports a variant whose program, map or variable names
// differ from those of the reference variant (the first one by id).
type APIMismatchError struct {
	Variant   string
	Reference string
	// Missing and Extra are names like "program dp_egress", relative to the
	// reference.
	Missing, Extra []string
}

func (e *APIMismatchError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(e.Missing, ", "))
	}
	if len(e.Extra) > 0 {
		parts = append(parts, "extra "+strings.Join(e.Extra, ", "))
	}
	return fmt.Sprintf("variant %q does not have the API of variant %q (the loader needs the same names in every variant): %s",
		e.Variant, e.Reference, strings.Join(parts, "; "))
}
