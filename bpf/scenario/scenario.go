package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf/packet"
	"github.com/dpforge/dpforge/features/diag"
)

// Scenario is one packet test: the setup of a loaded object, a packet to run
// through a program, and what must come out. See the package documentation
// for the YAML form.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Program is the name of the program the packet runs through, and the
	// default for Steps.
	Program string `yaml:"program"`
	// Condition says which variants the scenario applies to.
	Condition Condition `yaml:"applies,omitempty"`
	// Values are load-time variables, set before the object is loaded.
	Values Values `yaml:"values,omitempty"`
	// Maps are entries written after loading, before the first run.
	Maps MapWrites `yaml:"maps,omitempty"`
	// Packet is the input of the first run. It may be nil when Steps is not
	// empty; Ctx and Expect must then be empty.
	Packet *packet.Packet `yaml:"packet,omitempty"`
	Ctx    *Ctx           `yaml:"ctx,omitempty"`
	Expect Expect         `yaml:"expect,omitempty"`
	// Steps are further runs, in order, against the same loaded object.
	Steps []Step `yaml:"steps,omitempty"`

	// File is the name given to Parse, used in diagnostics.
	File string `yaml:"-"`

	root *yaml.Node // the document, to place diagnostics found after parsing
}

// Step is one further run of a scenario.
type Step struct {
	// Name labels the step in results; the default is "step N" (1-based).
	Name string `yaml:"name,omitempty"`
	// Program defaults to the scenario's.
	Program string `yaml:"program,omitempty"`
	// Maps are entries written before this step runs.
	Maps   MapWrites      `yaml:"maps,omitempty"`
	Packet *packet.Packet `yaml:"packet"`
	Ctx    *Ctx           `yaml:"ctx,omitempty"`
	Expect Expect         `yaml:"expect,omitempty"`
}

// Expect is what a run must produce. Every part is optional; an empty
// Expect only requires the run to succeed.
type Expect struct {
	Verdict *Verdict `yaml:"verdict,omitempty"`
	// Packet is compared with the output packet by packet.Diff: zero fields
	// are not compared.
	Packet *packet.Packet `yaml:"packet,omitempty"`
	// Ctx lists __sk_buff fields the kernel copies back after the run.
	Ctx *Ctx `yaml:"ctx,omitempty"`
	// Maps are conditions on map contents after the run.
	Maps MapChecks `yaml:"maps,omitempty"`
}

func (e *Expect) empty() bool {
	return e.Verdict == nil && e.Packet == nil && e.Ctx == nil && len(e.Maps) == 0
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Parse parses one scenario. file names the source in diagnostics. Unknown
// keys are errors, at every level. All problems found are returned together
// as an *Error.
//
// Parse checks the scenario on its own; whether its programs, maps, fields
// and variables exist, and whether its values fit their types, depends on
// the object and is checked by [Check] and [Run].
func Parse(file string, data []byte) (*Scenario, error) {
	d := &diags{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.list = append(d.list, yamlDiagnostics(file, err, nil)...)
		return nil, d.err()
	}
	if doc.Kind == 0 {
		d.add(nil, ruleMissingKey, "empty scenario")
		return nil, d.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	s := &Scenario{File: file, root: &doc}
	err := dec.Decode(s)
	if err != nil {
		d.list = append(d.list, yamlDiagnostics(file, err, &doc)...)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.add(&extra, ruleSyntax, "more than one YAML document; a file holds one scenario")
	}
	// After type errors yaml.v3 has decoded everything else, so the
	// checks of validate still make sense.
	var te *yaml.TypeError
	if err == nil || errors.As(err, &te) {
		s.validate(d)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// validate checks what yaml.v3 cannot: required keys and the shape of runs.
func (s *Scenario) validate(d *diags) {
	top := s.node()
	switch {
	case s.Name == "":
		d.add(top, ruleMissingKey, "missing key \"name\"")
	case !nameRE.MatchString(s.Name):
		d.add(s.node("name"), ruleBadValue, "name %q must be letters, digits, '.', '_' and '-'", s.Name)
	}
	if s.Program == "" {
		d.add(top, ruleMissingKey, "missing key \"program\"")
	}
	if s.Packet == nil {
		if len(s.Steps) == 0 {
			d.add(top, ruleMissingKey, "missing key \"packet\" (or \"steps\")")
		}
		if s.Ctx != nil {
			d.add(s.node("ctx"), ruleMissingKey, "\"ctx\" needs a \"packet\"; put it in a step")
		}
		if !s.Expect.empty() {
			d.add(s.node("expect"), ruleMissingKey, "\"expect\" needs a \"packet\"; put it in a step")
		}
	}
	names := map[string]int{}
	for i, st := range s.Steps {
		if st.Packet == nil {
			d.add(s.node("steps", i), ruleMissingKey, "step %d: missing key \"packet\"", i+1)
		}
		if st.Name == "" {
			continue
		}
		if j, ok := names[st.Name]; ok {
			d.add(s.node("steps", i, "name"), ruleDuplicate, "step name %q is also step %d's", st.Name, j+1)
		}
		names[st.Name] = i
	}
}

// node returns the YAML node at path (mapping keys and sequence indexes)
// below the document, or the deepest node found on the way; nil when the
// scenario was not parsed.
func (s *Scenario) node(path ...any) *yaml.Node {
	n := s.root
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		next := childNode(n, p)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func childNode(n *yaml.Node, p any) *yaml.Node {
	switch p := p.(type) {
	case string:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					return n.Content[i+1]
				}
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && p < len(n.Content) {
			return n.Content[p]
		}
	}
	return nil
}

// Load reads and parses one scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return Parse(path, data)
}

// LoadDir loads every *.yaml and *.yml file of dir, not recursing, sorted
// by file name. Scenario names must be unique. The diagnostics of all files
// are returned together as one *Error.
func LoadDir(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading scenario directory: %w", err)
	}
	var (
		out   []*Scenario
		list  []Diagnostic
		first = map[string]*Scenario{}
	)
	for _, e := range entries { // ReadDir sorts by file name
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		s, err := Load(filepath.Join(dir, e.Name()))
		var se *Error
		switch {
		case errors.As(err, &se):
			list = append(list, se.Diagnostics...)
			continue
		case err != nil:
			return nil, err
		}
		if f, ok := first[s.Name]; ok {
			n := s.node("name")
			fn := f.node("name")
			list = append(list, Diagnostic{Pos: diag.Position{File: s.File, Line: n.Line, Col: n.Column}, Severity: diag.Error, Rule: ruleDuplicate,
				Message: fmt.Sprintf("scenario name %q is also used at %s:%d", s.Name, f.File, fn.Line)})
			continue
		}
		first[s.Name] = s
		out = append(out, s)
	}
	if err := errorOf(list); err != nil {
		return nil, err
	}
	return out, nil
}

// yamlKeys returns the YAML keys of the Go type that yaml.v3 names goType
// ("scenario.Expect", "packet.IPv4"), for unknown-key messages.
func yamlKeys(goType string) []string {
	for _, t := range yamlTypes {
		if t.String() != goType {
			continue
		}
		var keys []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			keys = append(keys, name)
		}
		slices.Sort(keys)
		return keys
	}
	return nil
}

var yamlTypes = []reflect.Type{
	reflect.TypeFor[Scenario](), reflect.TypeFor[Step](), reflect.TypeFor[Expect](),
	reflect.TypeFor[Condition](), reflect.TypeFor[Ctx](),
	reflect.TypeFor[packet.Packet](), reflect.TypeFor[packet.Ethernet](), reflect.TypeFor[packet.ARP](),
	reflect.TypeFor[packet.IPv4](), reflect.TypeFor[packet.IPv6](), reflect.TypeFor[packet.TCP](),
	reflect.TypeFor[packet.UDP](), reflect.TypeFor[packet.ICMPv4](), reflect.TypeFor[packet.ICMPv6](),
}
