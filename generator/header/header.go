// Package header renders the C headers of a plan: one dp_variant.h per
// variant (compile-time macros only) and one node_config.h per node (all its
// macros), from the templates in package templates. Rendering is pure and
// deterministic: the same plan gives byte-identical files.
package header

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/plan"
	"github.com/dpforge/dpforge/templates"
)

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{"join": strings.Join}).ParseFS(templates.FS, "*.h.tmpl"))

// Check is an #error guard: a requirement of the feature table between
// compile-time features, so that a hand-edited header fails loudly.
type Check struct {
	Cond    string
	Message string
}

// File is a rendered file, by path relative to the output directory.
type File struct {
	Path string
	Data []byte
}

// Checks derives the #error guards from the feature table.
func Checks() []Check {
	var out []Check
	for _, f := range features.Features {
		if f.Stage != features.CompileTime || len(f.Defines) == 0 || f.Name == "events-ringbuf" {
			continue
		}
		for _, r := range f.Requires {
			if r.Feature == "" || r.When != "" {
				continue
			}
			neg := strings.HasPrefix(r.Feature, "!")
			g, ok := features.LookupFeature(strings.TrimPrefix(r.Feature, "!"))
			if !ok || g.Stage != features.CompileTime || len(g.Defines) == 0 {
				continue
			}
			cond := defined(f.Defines[0]) + " && "
			if neg {
				cond += defined(g.Defines[0])
			} else {
				cond += "!" + defined(g.Defines[0])
			}
			// Release-dependent rows can state one define-level rule
			// several times: guard it once.
			if !slices.ContainsFunc(out, func(c Check) bool { return c.Cond == cond }) {
				out = append(out, Check{Cond: cond, Message: cString(r.Message)})
			}
		}
	}
	return out
}

// shared counts the features defining each macro: a macro several features
// define with different values (TUNNEL_PROTOCOL) is tested by value, one
// only a single feature defines (LB_SELECTION) by being defined.
var shared = func() map[string]int {
	m := map[string]int{}
	for _, f := range features.Features {
		for _, d := range f.Defines {
			m[d.Name]++
		}
	}
	return m
}()

func defined(d features.Define) string {
	if shared[d.Name] == 1 {
		return "defined(" + d.Name + ")"
	}
	return fmt.Sprintf("(defined(%s) && %s == %s)", d.Name, d.Name, d.Value)
}

// cString escapes text for a C string literal on one line.
func cString(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", " ", "*/", "* /")
	return r.Replace(s)
}

// guard makes a header guard from a name.
func guard(prefix, name string) string {
	return prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name)) + "_H"
}

// VariantHeader renders dp_variant.h for one variant. It depends on the
// variant alone (its defines, target and -mcpu), never on the matrix it came
// from: the header is part of the object's cache key, so a comment added to
// the matrix, or the same matrix under another name, compiles nothing.
func VariantHeader(v *plan.Variant) ([]byte, error) {
	return render("variant.h.tmpl", map[string]any{
		"ID": v.ID, "Target": v.Target, "CPU": v.CPU,
		"Guard": guard("DPFORGE_VARIANT_", v.ID), "Defines": v.Defines, "Checks": Checks(),
	})
}

// NodeHeader renders node_config.h for one node.
func NodeHeader(p *plan.Plan, e *plan.Entry) ([]byte, error) {
	r := e.Resolution
	return render("node_config.h.tmpl", map[string]any{
		"Source": p.Matrix.File, "Hash": p.Matrix.Hash, "Node": e.Name, "Kernel": r.Kernel.String(), "ID": r.Variant.ID,
		"Target": r.Variant.Target, "CPU": r.Variant.CPU, "Guard": guard("DPFORGE_NODE_", e.Name),
		"Defines": r.Variant.Defines, "NodeDefines": r.NodeDefines, "Values": r.Values, "Checks": Checks(),
	})
}

func render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Files renders every header of a plan: nodes/<node>/node_config.h and
// variants/<id>/dp_variant.h, sorted by path.
func Files(p *plan.Plan) ([]File, error) {
	var out []File
	for _, v := range p.Variants {
		b, err := VariantHeader(v)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: "variants/" + v.ID + "/dp_variant.h", Data: b})
	}
	for _, e := range p.Nodes() {
		if !features.ValidName(e.Name) {
			return nil, fmt.Errorf("node name %q is not a valid file name", e.Name)
		}
		b, err := NodeHeader(p, e)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: "nodes/" + e.Name + "/node_config.h", Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
