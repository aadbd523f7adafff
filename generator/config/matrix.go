package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
)

// MaxFileSize bounds every input file: a matrix is hand-written text, and a
// bound keeps a stray binary or a generated monster from exhausting memory.
const MaxFileSize = 4 << 20

// maxNodes bounds the YAML node count (after parsing, aliases unexpanded).
const maxNodes = 200000

// Matrix is a parsed feature matrix.
type Matrix struct {
	File string
	// Hash is the sha256 of the input bytes (and of every probe file read),
	// named in generated files.
	Hash     string
	Kernels  []*KernelProfile // sorted by name
	Defaults Options
	Nodes    []*Node
	Axes     []Axis // sorted by name; "kernel" is one of them
	Exclude  []Cell
	AxesPos  diag.Position
	// ReleaseFrom says where the Cilium release in Defaults comes from (the
	// agent image, --cilium-version); empty when the matrix itself says.
	ReleaseFrom string
}

// Options are option values with the positions of their keys.
type Options struct {
	Values features.Config
	Keys   map[string]diag.Position
}

// KernelProfile is a named kernel: a version, or a probe file.
type KernelProfile struct {
	Name   string
	Pos    diag.Position
	Kernel features.Kernel
	Target string // bpfel or bpfeb, from arch
	Probe  string // path of the probe file, when probed
}

// Node is one node of the inventory.
type Node struct {
	Name      string
	Pos       diag.Position
	KernelRef string
	KernelPos diag.Position
	Config    Options
}

// Axis is one dimension of the CI matrix.
type Axis struct {
	Name   string
	Pos    diag.Position
	Values []string
}

// Cell is one combination of axis values.
type Cell map[string]string

// ReadFile reads files a matrix refers to (probe files), relative to the
// matrix's directory.
type ReadFile func(name string) ([]byte, error)

type parser struct {
	file string
	// lastWins makes a repeated key a warning whose last value counts, as
	// Kubernetes reads manifests.
	lastWins bool
	diags    diag.Diagnostics
	read     ReadFile
	hash     []byte
}

func (p *parser) pos(n *yaml.Node) diag.Position {
	return diag.Position{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *parser) errorf(n *yaml.Node, rule, format string, args ...any) {
	p.diags = append(p.diags, diag.Diagnostic{Pos: p.pos(n), Severity: diag.Error, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(n *yaml.Node, rule, format string, args ...any) {
	p.diags = append(p.diags, diag.Diagnostic{Pos: p.pos(n), Severity: diag.Warning, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// decodeDoc parses bytes into a yaml document root, rejecting what a matrix
// never needs and an attacker would: oversized input, aliases and merge keys
// (alias bombs), multiple documents, and huge trees.
func (p *parser) decodeDoc(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		p.diags = append(p.diags, diag.Diagnostic{Pos: diag.Position{File: p.file}, Severity: diag.Error, Rule: diag.RuleFileTooLarge,
			Message: fmt.Sprintf("input is %d bytes; the limit is %d", len(data), MaxFileSize)})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, diag.RuleYAML, "only one YAML document is allowed")
	}
	count := 0
	if !p.checkTree(&doc, &count) || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// yamlError reports a yaml.v3 decoding error at its line.
func (p *parser) yamlError(err error) {
	line := 0
	msg := err.Error()
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	if msg == "EOF" {
		msg = "empty document"
	}
	p.diags = append(p.diags, diag.Diagnostic{Pos: diag.Position{File: p.file, Line: line, Col: 1}, Severity: diag.Error, Rule: diag.RuleYAML, Message: strings.TrimPrefix(msg, "yaml: ")})
}

// checkTree refuses aliases, merge keys and trees of more than maxNodes
// nodes (count carries over between the documents of one file).
func (p *parser) checkTree(doc *yaml.Node, count *int) bool {
	ok := true
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		*count++
		if *count > maxNodes {
			ok = false
			return
		}
		if n.Kind == yaml.AliasNode {
			p.errorf(n, diag.RuleYAMLAlias, "YAML aliases are not supported in a matrix; write the values out")
			ok = false
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "<<" && n.Content[i].Tag == "!!merge" {
					p.errorf(n.Content[i], diag.RuleYAMLAlias, "YAML merge keys are not supported in a matrix")
					ok = false
				}
			}
		}
		for _, c := range n.Content {
			if ok {
				walk(c)
			}
		}
	}
	walk(doc)
	if *count > maxNodes {
		p.errorf(doc, diag.RuleFileTooLarge, "document has more than %d YAML nodes", maxNodes)
	}
	return ok
}

// mapping iterates a mapping node's key/value pairs, reporting duplicates and
// keys not in allowed (nil: any key).
func (p *parser) mapping(n *yaml.Node, what string, allowed []string, fn func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, diag.RuleWrongType, "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	// Small mappings (a node, its config) are searched for repeats
	// directly: a map per mapping costs more than the search.
	var seen map[string]*yaml.Node
	if len(n.Content) > 32 {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, diag.RuleWrongType, "%s keys must be strings", what)
			continue
		}
		var prev *yaml.Node
		if seen != nil {
			prev = seen[k.Value]
			seen[k.Value] = k
		} else {
			for j := 0; j < i; j += 2 {
				if c := n.Content[j]; c.Kind == yaml.ScalarNode && c.Value == k.Value {
					prev = c
					break
				}
			}
		}
		if prev != nil {
			if !p.lastWins {
				p.errorf(k, diag.RuleDuplicateKey, "%q is given twice in %s (first at line %d)", k.Value, what, prev.Line)
				continue
			}
			p.warnf(k, diag.RuleDuplicateKey, "%q is given twice in %s (first at line %d); Kubernetes keeps the last value", k.Value, what, prev.Line)
		}
		if allowed != nil && !contains(allowed, k.Value) {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, what)
			if s := diag.Closest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += fmt.Sprintf(" (want one of %s)", strings.Join(allowed, ", "))
			}
			p.errorf(k, diag.RuleUnknownKey, "%s", msg)
			continue
		}
		fn(k, v)
	}
}

func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, diag.RuleWrongType, "%s must be a scalar value, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "an alias"
}

// Parse reads a feature matrix. The returned Matrix is nil only when the
// document could not be read at all; otherwise it holds everything valid
// and the diag.Diagnostics say what was not.
func Parse(file string, data []byte, read ReadFile) (*Matrix, diag.Diagnostics) {
	p := &parser{file: file, read: read}
	h := sha256.New()
	h.Write(data)
	root := p.decodeDoc(data)
	if root == nil {
		return nil, p.diags.Sort()
	}
	m := &Matrix{File: file, Defaults: Options{Values: features.Config{}, Keys: map[string]diag.Position{}}}
	var nodesNode, matrixNode *yaml.Node
	p.mapping(root, "the matrix", []string{"kernels", "defaults", "nodes", "matrix"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "kernels":
			p.kernels(v, m)
		case "defaults":
			m.Defaults = p.options(v, "defaults")
		case "nodes":
			nodesNode = v
		case "matrix":
			matrixNode = v
		}
	})
	if nodesNode != nil {
		p.nodes(nodesNode, m)
	}
	if matrixNode != nil {
		p.matrix(matrixNode, m)
	}
	if len(m.Nodes) == 0 && len(m.Axes) == 0 && !p.diags.HasErrors() {
		p.errorf(root, diag.RuleEmpty, "the matrix has neither nodes nor a matrix section")
	}
	h.Write(p.hash)
	m.Hash = hex.EncodeToString(h.Sum(nil))
	return m, p.diags.Sort()
}

func (p *parser) kernels(n *yaml.Node, m *Matrix) {
	p.mapping(n, "kernels", nil, func(k, v *yaml.Node) {
		if !features.ValidName(k.Value) {
			p.errorf(k, diag.RuleInvalidName, "kernel profile name %q must be a DNS-1123 label (lower-case letters, digits, '-')", k.Value)
			return
		}
		kp := &KernelProfile{Name: k.Value, Pos: p.pos(k), Target: features.LittleEndian}
		var verNode, probeNode *yaml.Node
		p.mapping(v, fmt.Sprintf("kernel profile %q", k.Value), []string{"version", diag.RuleProbe, "arch"}, func(kk, vv *yaml.Node) {
			switch kk.Value {
			case "version":
				verNode = vv
			case "probe":
				probeNode = vv
			case "arch":
				if s, ok := p.scalar(vv, "arch"); ok {
					t, known := archTarget[s]
					if !known {
						p.errorf(vv, diag.RuleInvalidValue, "unknown arch %q (want one of %s)", s, strings.Join(sortedKeys(archTarget), ", "))
					}
					kp.Target = t
				}
			}
		})
		switch {
		case verNode == nil && probeNode == nil:
			p.errorf(k, diag.RuleMissingKey, "kernel profile %q needs a version or a probe file", k.Value)
			return
		case verNode != nil && probeNode != nil:
			p.errorf(probeNode, diag.RuleConflict, "kernel profile %q has both version and probe; a probe file states its version", k.Value)
			return
		case verNode != nil:
			s, ok := p.scalar(verNode, "version")
			if !ok {
				return
			}
			ver, err := features.ParseVersion(s)
			if err != nil {
				p.errorf(verNode, diag.RuleInvalidVersion, "%v", err)
				return
			}
			kp.Kernel = features.Kernel{Name: k.Value, Version: ver, Release: s}
		default:
			s, ok := p.scalar(probeNode, diag.RuleProbe)
			if !ok {
				return
			}
			pf, ok := p.probe(probeNode, s)
			if !ok {
				return
			}
			kern := pf.Kernel()
			kern.Name = k.Value
			kp.Kernel, kp.Probe = kern, s
			if pf.Arch != "" {
				kp.Target = archTarget[pf.Arch]
			}
		}
		m.Kernels = append(m.Kernels, kp)
	})
	sort.Slice(m.Kernels, func(i, j int) bool { return m.Kernels[i].Name < m.Kernels[j].Name })
}

// archTarget maps Go architecture names to the BPF byte order, as bpf2go does.
var archTarget = map[string]string{
	"386": "bpfel", "amd64": "bpfel", "arm": "bpfel", "arm64": "bpfel", "loong64": "bpfel", "mips64le": "bpfel",
	"mipsle": "bpfel", "ppc64le": "bpfel", "riscv64": "bpfel", "mips": "bpfeb", "mips64": "bpfeb", "ppc64": "bpfeb", "s390x": "bpfeb",
}

func (p *parser) probe(n *yaml.Node, file string) (*ProbeFile, bool) {
	if !safePath(file) {
		p.errorf(n, diag.RuleInvalidPath, "probe path %q must be relative, without \"..\" and without unusual characters", file)
		return nil, false
	}
	if p.read == nil {
		p.errorf(n, diag.RuleInvalidPath, "probe files cannot be read here")
		return nil, false
	}
	data, err := p.read(file)
	if err != nil {
		p.errorf(n, diag.RuleProbe, "reading probe file: %v", err)
		return nil, false
	}
	p.hash = append(p.hash, data...)
	pf, err := ParseProbe(data)
	if err != nil {
		p.errorf(n, diag.RuleProbe, "probe file %s: %v", file, err)
		return nil, false
	}
	return pf, true
}

// safePath accepts a relative slash path of ordinary characters.
func safePath(s string) bool {
	if s == "" || strings.HasPrefix(s, "/") || len(s) > 255 || path.Clean(s) != s {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." || part == "." {
			return false
		}
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			return false
		}
	}
	return true
}

// options reads a mapping of Cilium agent options. Modeled options are
// checked and normalized; options some Cilium release has but dpforge does
// not model are kept as written (the release decides whether the agent reads
// them) and noted; a key no release has is a warning, as the agent ignores
// it. An empty value is no value, as in Cilium.
func (p *parser) options(n *yaml.Node, what string) Options {
	o := Options{Values: features.Config{}, Keys: map[string]diag.Position{}}
	p.mapping(n, what, nil, func(k, v *yaml.Node) {
		name := k.Value
		if v.Kind == yaml.ScalarNode && (v.Value == "" || v.Tag == "!!null") {
			return
		}
		opt, modeled := features.Modeled(name)
		if !modeled {
			if _, known := features.LookupOption(name); known {
				p.diags = append(p.diags, diag.Diagnostic{Pos: p.pos(k), Severity: diag.Info, Rule: diag.RuleUnmodeledOption,
					Message: fmt.Sprintf("option %q is not modeled by dpforge; it takes no part in the checks", name)})
				if v.Kind == yaml.ScalarNode {
					o.Values[name] = v.Value
					o.Keys[name] = p.pos(k)
				}
				return
			}
			msg := fmt.Sprintf("unknown option %q: no Cilium release has it, and the agent ignores it", name)
			if s := features.Suggest(name); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			p.warnf(k, diag.RuleUnknownOption, "%s", msg)
			return
		}
		raw, ok := p.optionValue(v, opt)
		if !ok {
			return
		}
		val, err := opt.Normalize(raw)
		if err != nil {
			p.errorf(v, diag.RuleInvalidValue, "%s: %v", name, err)
			return
		}
		o.Values[name] = val
		o.Keys[name] = p.pos(k)
	})
	return o
}

// optionValue accepts a scalar, or for list options a YAML list.
func (p *parser) optionValue(v *yaml.Node, opt *features.Option) (string, bool) {
	if v.Kind == yaml.SequenceNode && opt.Kind == features.KindList {
		var words []string
		for _, e := range v.Content {
			s, ok := p.scalar(e, opt.Name+" element")
			if !ok {
				return "", false
			}
			words = append(words, s)
		}
		return strings.Join(words, ","), true
	}
	return p.scalar(v, opt.Name)
}

func (p *parser) nodes(n *yaml.Node, m *Matrix) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, diag.RuleWrongType, "nodes must be a list, not %s", kindName(n))
		return
	}
	seen := map[string]diag.Position{}
	for _, e := range n.Content {
		node := &Node{Pos: p.pos(e), Config: Options{Values: features.Config{}, Keys: map[string]diag.Position{}}}
		p.mapping(e, "a node", []string{"name", "kernel", "config"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "name":
				s, ok := p.scalar(v, "name")
				if !ok {
					return
				}
				if !features.ValidName(s) {
					p.errorf(v, diag.RuleInvalidName, "node name %q must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)", s)
					return
				}
				node.Name, node.Pos = s, p.pos(v)
			case "kernel":
				if s, ok := p.scalar(v, "kernel"); ok {
					node.KernelRef, node.KernelPos = s, p.pos(v)
				}
			case "config":
				node.Config = p.options(v, "node config")
			}
		})
		if e.Kind != yaml.MappingNode {
			continue
		}
		if node.Name == "" {
			if !hasKey(e, "name") {
				p.errorf(e, diag.RuleMissingKey, "a node needs a name")
			}
			continue
		}
		if prev, dup := seen[node.Name]; dup {
			p.diags = append(p.diags, diag.Diagnostic{Pos: node.Pos, Severity: diag.Error, Rule: diag.RuleDuplicateNode,
				Message: fmt.Sprintf("node %q is defined twice", node.Name), Related: &prev})
			continue
		}
		seen[node.Name] = node.Pos
		if node.KernelRef == "" {
			if !hasKey(e, "kernel") {
				p.errorf(e, diag.RuleMissingKey, "node %q needs a kernel (a profile name or a version)", node.Name)
			}
			continue
		}
		if _, ok := m.kernel(node.KernelRef); !ok {
			p.kernelRefError(node.KernelPos, node.KernelRef, m)
			continue
		}
		m.Nodes = append(m.Nodes, node)
	}
}

func (p *parser) kernelRefError(pos diag.Position, ref string, m *Matrix) {
	names := make([]string, len(m.Kernels))
	for i, k := range m.Kernels {
		names[i] = k.Name
	}
	msg := fmt.Sprintf("unknown kernel profile %q", ref)
	if _, err := features.ParseVersion(ref); strings.ContainsAny(ref, "0123456789") && strings.Contains(ref, ".") {
		msg = err.Error()
	} else if s := diag.Closest(ref, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(names) > 0 {
		msg += fmt.Sprintf(" (profiles: %s; or write a version such as 5.10.0)", strings.Join(names, ", "))
	}
	rule := "unknown-kernel"
	if strings.HasPrefix(msg, "kernel ") {
		rule = diag.RuleInvalidVersion
	}
	p.diags = append(p.diags, diag.Diagnostic{Pos: pos, Severity: diag.Error, Rule: rule, Message: msg})
}

// kernel resolves a profile name, a named distribution kernel (rhel8) or a
// bare version.
func (m *Matrix) kernel(ref string) (*KernelProfile, bool) {
	for _, k := range m.Kernels {
		if k.Name == ref {
			return k, true
		}
	}
	if d, ok := features.LookupDistro(ref); ok {
		return &KernelProfile{Name: ref, Kernel: d.Kernel(), Target: features.LittleEndian}, true
	}
	v, err := features.ParseVersion(ref)
	if err != nil {
		return nil, false
	}
	return &KernelProfile{Name: ref, Kernel: features.Kernel{Name: ref, Version: v, Release: ref}, Target: features.LittleEndian}, true
}

// Kernel resolves a node's or cell's kernel reference.
func (m *Matrix) Kernel(ref string) (*KernelProfile, bool) { return m.kernel(ref) }

func (p *parser) matrix(n *yaml.Node, m *Matrix) {
	m.AxesPos = p.pos(n)
	p.mapping(n, "matrix", nil, func(k, v *yaml.Node) {
		if k.Value == "exclude" {
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, diag.RuleWrongType, "matrix exclude must be a list of mappings")
				return
			}
			for _, e := range v.Content {
				cell := Cell{}
				p.mapping(e, "an exclude entry", nil, func(kk, vv *yaml.Node) {
					if s, ok := p.scalar(vv, kk.Value); ok {
						cell[kk.Value] = s
					}
				})
				m.Exclude = append(m.Exclude, cell)
			}
			return
		}
		axis := Axis{Name: k.Value, Pos: p.pos(k)}
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			p.errorf(v, diag.RuleWrongType, "matrix axis %q must be a non-empty list", k.Value)
			return
		}
		var opt *features.Option
		if k.Value != "kernel" {
			o, ok := features.Modeled(k.Value)
			if !ok {
				msg := fmt.Sprintf("unknown matrix axis %q: an axis is \"kernel\" or a modeled option", k.Value)
				axes := []string{"kernel"}
				for _, o := range features.Options() {
					axes = append(axes, o.Name)
				}
				if s := diag.Closest(k.Value, axes); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				p.errorf(k, diag.RuleUnknownOption, "%s", msg)
				return
			}
			opt = o
		}
		seen := map[string]bool{}
		for _, e := range v.Content {
			s, ok := p.scalar(e, "matrix value")
			if !ok {
				continue
			}
			if opt != nil {
				norm, err := opt.Normalize(s)
				if err != nil {
					p.errorf(e, diag.RuleInvalidValue, "%s: %v", opt.Name, err)
					continue
				}
				s = norm
			} else if _, ok := m.kernel(s); !ok {
				p.kernelRefError(p.pos(e), s, m)
				continue
			}
			if seen[s] {
				p.errorf(e, diag.RuleDuplicateKey, "matrix axis %q lists %q twice", k.Value, s)
				continue
			}
			seen[s] = true
			axis.Values = append(axis.Values, s)
		}
		m.Axes = append(m.Axes, axis)
	})
	sort.Slice(m.Axes, func(i, j int) bool { return m.Axes[i].Name < m.Axes[j].Name })
	hasKernel := false
	for _, a := range m.Axes {
		hasKernel = hasKernel || a.Name == "kernel"
	}
	if len(m.Axes) > 0 && !hasKernel {
		p.errorf(n, diag.RuleMissingKey, "a matrix needs a kernel axis")
	}
	for _, ex := range m.Exclude {
		for k := range ex {
			if m.axis(k) == nil {
				p.errorf(n, diag.RuleUnknownKey, "exclude entry names %q, which is not a matrix axis", k)
			}
		}
	}
}

func (m *Matrix) axis(name string) *Axis {
	for i := range m.Axes {
		if m.Axes[i].Name == name {
			return &m.Axes[i]
		}
	}
	return nil
}

// maxCells bounds the cartesian product.
const maxCells = 100000

// Cells expands the matrix into its cells, in a stable order (axes sorted by
// name, values in file order), without the excluded ones.
func (m *Matrix) Cells() ([]Cell, error) {
	if len(m.Axes) == 0 {
		return nil, nil
	}
	total := 1
	for _, a := range m.Axes {
		total *= len(a.Values)
		if total > maxCells {
			return nil, fmt.Errorf("the matrix expands to more than %d cells", maxCells)
		}
	}
	cells := []Cell{{}}
	for _, a := range m.Axes {
		var next []Cell
		for _, c := range cells {
			for _, v := range a.Values {
				n := Cell{}
				for k, x := range c {
					n[k] = x
				}
				n[a.Name] = v
				next = append(next, n)
			}
		}
		cells = next
	}
	out := cells[:0]
	for _, c := range cells {
		if !m.excluded(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *Matrix) excluded(c Cell) bool {
	for _, ex := range m.Exclude {
		match := len(ex) > 0
		for k, v := range ex {
			cv := c[k]
			if o, ok := features.Modeled(k); ok {
				if norm, err := o.Normalize(v); err == nil {
					v = norm
				}
			}
			if cv != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// Name renders a cell as "kernel=lts,tunnel=vxlan".
func (c Cell) Name() string {
	keys := sortedKeys(c)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + c[k]
	}
	return strings.Join(parts, ",")
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
