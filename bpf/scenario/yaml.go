package scenario

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The types in this file hold the parts of a scenario whose shape depends
// on the object (map keys and values, variables): they keep the YAML nodes,
// with their positions, for encoding against BTF. They decode by hand rather
// than through node.Decode, which would drop KnownFields (go-yaml #460).

// Condition selects variants by their compile-time defines.
type Condition struct {
	// All must all be defined.
	All []Define `yaml:"all,omitempty"`
	// Any, when not empty, needs at least one defined.
	Any []Define `yaml:"any,omitempty"`
	// None must all be undefined.
	None []Define `yaml:"none,omitempty"`
}

// Match reports whether a variant with these defines (name to value, "1"
// for flags) satisfies c. An empty Condition matches every variant.
func (c Condition) Match(defines map[string]string) bool {
	for _, d := range c.All {
		if !d.match(defines) {
			return false
		}
	}
	for _, d := range c.None {
		if d.match(defines) {
			return false
		}
	}
	if len(c.Any) == 0 {
		return true
	}
	for _, d := range c.Any {
		if d.match(defines) {
			return true
		}
	}
	return false
}

// Applies reports whether the scenario applies to a variant with these
// compile-time defines; see [Condition.Match].
func (s *Scenario) Applies(defines map[string]string) bool {
	return s.Condition.Match(defines)
}

// Define is a macro test: "NAME" is true when NAME is defined, "NAME=VALUE"
// when it is defined to exactly VALUE.
type Define struct {
	Name string
	// Value is compared when HasValue is set.
	Value    string
	HasValue bool
}

var macroRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseDefine parses "NAME" or "NAME=VALUE".
func ParseDefine(s string) (Define, error) {
	name, value, hasValue := strings.Cut(s, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !macroRE.MatchString(name) {
		return Define{}, fmt.Errorf("bad define %q: want NAME or NAME=VALUE with NAME a C identifier", s)
	}
	return Define{Name: name, Value: value, HasValue: hasValue}, nil
}

func (d Define) match(defines map[string]string) bool {
	v, ok := defines[d.Name]
	return ok && (!d.HasValue || v == d.Value)
}

func (d Define) String() string {
	if d.HasValue {
		return d.Name + "=" + d.Value
	}
	return d.Name
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Define) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, ruleBadValue, "a define must be a string NAME or NAME=VALUE")
	}
	v, err := ParseDefine(n.Value)
	if err != nil {
		return nodeError(n, ruleBadValue, "%v", err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Define) MarshalYAML() (any, error) { return d.String(), nil }

// Values are load-time variable settings, in file order.
type Values []Value

// Value sets one load-time variable. Node is encoded against the
// variable's BTF type.
type Value struct {
	Name string
	Node *yaml.Node
	key  *yaml.Node
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Values) UnmarshalYAML(n *yaml.Node) error {
	var errs []string
	pairs(n, "values", &errs, func(k, val *yaml.Node) {
		*v = append(*v, Value{Name: k.Value, Node: val, key: k})
	})
	return typeError(errs)
}

// MapWrites are map entries to write, grouped by map, in file order.
type MapWrites []MapWrite

// MapWrite is a list of entries for one map.
type MapWrite struct {
	Map     string
	Entries []Entry
	key     *yaml.Node
}

// Entry is one map entry. Key and Value are encoded against the map's BTF
// key and value types. In an expectation, Value may be nil (the entry must
// exist) and only the fields listed are compared.
type Entry struct {
	Key, Value *yaml.Node
	node       *yaml.Node
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *MapWrites) UnmarshalYAML(n *yaml.Node) error {
	var errs []string
	pairs(n, "maps", &errs, func(k, val *yaml.Node) {
		if val.Kind != yaml.SequenceNode {
			errs = append(errs, nodeMessage(val, ruleBadValue, "map %q: want a list of {key, value} entries", k.Value))
			return
		}
		mw := MapWrite{Map: k.Value, key: k}
		for _, e := range val.Content {
			if ent, ok := entry(e, true, &errs); ok {
				mw.Entries = append(mw.Entries, ent)
			}
		}
		*w = append(*w, mw)
	})
	return typeError(errs)
}

// MapChecks are expectations on maps, in file order.
type MapChecks []MapCheck

// MapCheck is the expectation on one map. In YAML it is either a list of
// entries, or a mapping with any of "entries", "absent" and "count".
type MapCheck struct {
	Map string
	// Entries must each match at least one entry of the map: the entry's
	// key matches the listed key fields and its value the listed value
	// fields.
	Entries []Entry
	// Absent are keys (listed fields only) that no entry may match.
	Absent []*yaml.Node
	// Count, when set, is the number of entries the map must hold; for
	// array maps, the number of entries whose value is not all zero.
	Count *int
	key   *yaml.Node
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *MapChecks) UnmarshalYAML(n *yaml.Node) error {
	var errs []string
	pairs(n, "expect.maps", &errs, func(k, val *yaml.Node) {
		mc := MapCheck{Map: k.Value, key: k}
		switch val.Kind {
		case yaml.SequenceNode:
			mc.Entries = entries(val, &errs)
		case yaml.MappingNode:
			pairs(val, "map expectation", &errs, func(kk, vv *yaml.Node) {
				switch kk.Value {
				case "entries":
					mc.Entries = entries(vv, &errs)
				case "absent":
					if vv.Kind != yaml.SequenceNode {
						errs = append(errs, nodeMessage(vv, ruleBadValue, "absent: want a list of keys"))
						return
					}
					mc.Absent = append(mc.Absent, vv.Content...)
				case "count":
					i, err := strconv.Atoi(vv.Value)
					if vv.Kind != yaml.ScalarNode || err != nil || i < 0 {
						errs = append(errs, nodeMessage(vv, ruleBadValue, "count: want a number of entries"))
						return
					}
					mc.Count = &i
				default:
					errs = append(errs, nodeMessage(kk, ruleUnknownKey, "unknown key %q (want one of: absent, count, entries)", kk.Value))
				}
			})
		default:
			errs = append(errs, nodeMessage(val, ruleBadValue,
				"map %q: want a list of {key, value} entries, or a mapping of entries, absent and count", k.Value))
		}
		*c = append(*c, mc)
	})
	return typeError(errs)
}

func entries(n *yaml.Node, errs *[]string) []Entry {
	if n.Kind != yaml.SequenceNode {
		*errs = append(*errs, nodeMessage(n, ruleBadValue, "entries: want a list of {key, value} entries"))
		return nil
	}
	var out []Entry
	for _, e := range n.Content {
		if ent, ok := entry(e, false, errs); ok {
			out = append(out, ent)
		}
	}
	return out
}

// entry decodes {key: ..., value: ...}; needValue makes value required.
func entry(n *yaml.Node, needValue bool, errs *[]string) (Entry, bool) {
	n = deref(n)
	e := Entry{node: n}
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, nodeMessage(n, ruleBadValue, "want an entry {key: ..., value: ...}"))
		return e, false
	}
	ok := true
	pairs(n, "entry", errs, func(k, v *yaml.Node) {
		switch k.Value {
		case "key":
			e.Key = v
		case "value":
			e.Value = v
		default:
			ok = false
			*errs = append(*errs, nodeMessage(k, ruleUnknownKey, "unknown key %q (want one of: key, value)", k.Value))
		}
	})
	if e.Key == nil {
		ok = false
		*errs = append(*errs, nodeMessage(n, ruleMissingKey, "missing key \"key\""))
	}
	if needValue && e.Value == nil {
		ok = false
		*errs = append(*errs, nodeMessage(n, ruleMissingKey, "missing key \"value\""))
	}
	return e, ok
}

// pairs calls f for each key and value of mapping n, reporting a non-mapping,
// non-scalar keys and duplicate keys.
func pairs(n *yaml.Node, what string, errs *[]string, f func(k, v *yaml.Node)) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, nodeMessage(n, ruleBadValue, "%s: want a mapping", what))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			*errs = append(*errs, nodeMessage(k, ruleBadValue, "%s: keys must be names", what))
			continue
		}
		if seen[k.Value] {
			*errs = append(*errs, nodeMessage(k, ruleDuplicate, "duplicate key %q", k.Value))
			continue
		}
		seen[k.Value] = true
		f(k, v)
	}
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func typeError(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return &yaml.TypeError{Errors: errs}
}

// Verdict is a tc program's return value. In YAML it is a name
// (TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, ...) or a number.
type Verdict uint32

// tc verdicts from linux/pkt_cls.h.
const (
	TCActUnspec     Verdict = math.MaxUint32 // -1
	TCActOK         Verdict = 0
	TCActReclassify Verdict = 1
	TCActShot       Verdict = 2
	TCActPipe       Verdict = 3
	TCActStolen     Verdict = 4
	TCActQueued     Verdict = 5
	TCActRepeat     Verdict = 6
	TCActRedirect   Verdict = 7
	TCActTrap       Verdict = 8
)

var verdictNames = map[Verdict]string{
	TCActUnspec: "TC_ACT_UNSPEC", TCActOK: "TC_ACT_OK", TCActReclassify: "TC_ACT_RECLASSIFY",
	TCActShot: "TC_ACT_SHOT", TCActPipe: "TC_ACT_PIPE", TCActStolen: "TC_ACT_STOLEN",
	TCActQueued: "TC_ACT_QUEUED", TCActRepeat: "TC_ACT_REPEAT", TCActRedirect: "TC_ACT_REDIRECT",
	TCActTrap: "TC_ACT_TRAP",
}

// String returns the verdict's name, or its number when it has none.
func (v Verdict) String() string {
	if s, ok := verdictNames[v]; ok {
		return s
	}
	return strconv.FormatInt(int64(int32(v)), 10)
}

// describe is "TC_ACT_SHOT (2)", for failure messages.
func (v Verdict) describe() string {
	if s, ok := verdictNames[v]; ok {
		return fmt.Sprintf("%s (%d)", s, int32(v))
	}
	return v.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Verdict) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		for val, name := range verdictNames {
			if n.Value == name {
				*v = val
				return nil
			}
		}
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			if i < -1 || i > math.MaxUint32 {
				return nodeError(n, ruleOutOfRange, "verdict %s out of range", n.Value)
			}
			*v = Verdict(uint32(i))
			return nil
		}
	}
	return nodeError(n, ruleBadValue, "bad verdict %q: want TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, ... or a number", n.Value)
}

// MarshalText implements encoding.TextMarshaler, for JSON: the name, or the
// number when it has none.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// MarshalYAML implements yaml.Marshaler.
func (v Verdict) MarshalYAML() (any, error) {
	if s, ok := verdictNames[v]; ok {
		return s, nil
	}
	return int64(int32(v)), nil
}
