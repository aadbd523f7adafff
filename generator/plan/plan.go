// Package plan resolves every node and matrix cell of a Matrix with the
// feature model and groups them into distinct variants. It is pure: it reads
// no files and runs no compiler. Diagnostics from the model are mapped back
// to the keys in the matrix that caused them.
package plan

import (
	"sort"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
	"github.com/dpforge/dpforge/generator/config"
)

// Target is a whole-build byte-order override ("" keeps each kernel
// profile's own).
type Target string

// Entry is one resolved node or matrix cell.
type Entry struct {
	Name string // node name, or "matrix[kernel=lts,tunnel=vxlan]"
	Node bool   // a real node (has a node_config.h); false for matrix cells
	// Kernel is the profile name (or bare version) the entry runs on.
	Kernel     string
	Resolution *features.Resolution
	Config     features.Config
}

// Variant is one distinct compile-time feature set with the entries using it.
type Variant struct {
	features.Variant
	Kernels []string // sorted, distinct
	Entries []string // sorted names
}

// Plan is the outcome for a whole matrix.
type Plan struct {
	Matrix   *config.Matrix
	Entries  []*Entry   // nodes in file order, then cells in matrix order
	Variants []*Variant // sorted by ID
	Diags    diag.Diagnostics

	resolver features.Resolver
	variants map[string]*Variant
}

// Nodes returns the real nodes.
func (p *Plan) Nodes() []*Entry {
	var out []*Entry
	for _, e := range p.Entries {
		if e.Node {
			out = append(out, e)
		}
	}
	return out
}

// Variant finds a variant by id.
func (p *Plan) Variant(id string) *Variant {
	for _, v := range p.Variants {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// Make resolves a parsed matrix. target, when set, overrides every
// profile's byte order.
func Make(m *config.Matrix, target string) *Plan {
	p := &Plan{Matrix: m}
	for _, n := range m.Nodes {
		kp, _ := m.Kernel(n.KernelRef)
		cfg := m.Defaults.Values.Merge(n.Config.Values)
		e := p.add(n.Name, true, kp, cfg, target)
		loc := locator{node: n, defaults: m.Defaults, fallback: n.Pos, subject: n.Name}
		p.Diags = append(p.Diags, loc.diagnostics(e.Resolution.Problems)...)
	}
	cells, err := m.Cells()
	if err != nil {
		p.Diags = append(p.Diags, diag.Diagnostic{Pos: m.AxesPos, Severity: diag.Error, Rule: diag.RuleTooManyCells, Message: err.Error()})
	}
	for _, c := range cells {
		kp, _ := m.Kernel(c["kernel"])
		cfg := m.Defaults.Values.Merge(nil)
		axes := map[string]diag.Position{}
		for _, a := range m.Axes {
			axes[a.Name] = a.Pos
			if a.Name != "kernel" {
				cfg[a.Name] = c[a.Name]
			}
		}
		name := "matrix[" + c.Name() + "]"
		e := p.add(name, false, kp, cfg, target)
		loc := locator{axes: axes, defaults: m.Defaults, fallback: m.AxesPos, subject: name}
		p.Diags = append(p.Diags, loc.diagnostics(e.Resolution.Problems)...)
	}
	p.Diags = p.Diags.Sort()
	return p
}

func (p *Plan) add(name string, node bool, kp *config.KernelProfile, cfg features.Config, target string) *Entry {
	t := kp.Target
	if target != "" {
		t = target
	}
	r := p.resolver.Resolve(cfg, kp.Kernel, t)
	e := &Entry{Name: name, Node: node, Kernel: kp.Name, Resolution: r, Config: cfg}
	p.Entries = append(p.Entries, e)
	v := p.variants[r.Variant.ID]
	if v == nil {
		if p.variants == nil {
			p.variants = map[string]*Variant{}
		}
		v = &Variant{Variant: r.Variant}
		p.variants[r.Variant.ID] = v
		p.Variants = append(p.Variants, v)
		sort.Slice(p.Variants, func(i, j int) bool { return p.Variants[i].ID < p.Variants[j].ID })
	}
	v.Entries = insertSorted(v.Entries, name)
	v.Kernels = insertSorted(v.Kernels, kp.Name)
	return e
}

func insertSorted(list []string, s string) []string {
	i := sort.SearchStrings(list, s)
	if i < len(list) && list[i] == s {
		return list
	}
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = s
	return list
}

// locator maps an option name to the key that set it: the node's own
// config, the matrix axis, or the defaults; else the node itself.
type locator struct {
	node     *config.Node
	axes     map[string]diag.Position
	defaults config.Options
	fallback diag.Position
	subject  string // the node or matrix cell
}

func (l locator) find(option string) (diag.Position, bool) {
	if option == "" {
		return diag.Position{}, false
	}
	if l.node != nil {
		if p, ok := l.node.Config.Keys[option]; ok {
			return p, true
		}
	}
	if p, ok := l.axes[option]; ok {
		return p, true
	}
	if p, ok := l.defaults.Keys[option]; ok {
		return p, true
	}
	return diag.Position{}, false
}

// own reports whether the node itself sets the option.
func (l locator) own(option string) bool {
	if l.node == nil {
		return false
	}
	_, ok := l.node.Config.Keys[option]
	return ok
}

func (l locator) diagnostics(ps []features.Problem) diag.Diagnostics {
	var out diag.Diagnostics
	for _, pr := range ps {
		pos, ok := l.find(pr.Option)
		if !ok {
			// An option not written anywhere (a default) that still causes
			// a problem: point at the other key, else at the node.
			if p2, ok2 := l.find(pr.Other); ok2 {
				pos, ok = p2, true
			} else {
				pos = l.fallback
			}
		}
		d := diag.Diagnostic{Pos: pos, Severity: pr.Severity, Rule: pr.Rule, Message: pr.Message}
		if !pr.OptionScoped || l.own(pr.Option) {
			// Option-scoped problems found in the defaults or an axis are
			// said once, not per node.
			d.Subjects = []string{l.subject}
		}
		if other, ok2 := l.find(pr.Other); ok2 && other != pos {
			d.Related = &other
		} else if pr.Rule == diag.RuleKernelTooOld && l.node != nil && l.node.KernelPos != pos {
			k := l.node.KernelPos
			d.Related = &k
		}
		out = append(out, d)
	}
	return out
}
