package packet

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MAC is an Ethernet address. In YAML it is "02:00:00:00:00:01".
type MAC [6]byte

// ParseMAC parses six colon- or dash-separated hex bytes.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(parts) != 6 || strings.Count(s, ":")+strings.Count(s, "-") != 5 {
		return m, fmt.Errorf("invalid MAC address %q: want six hex bytes like 02:00:00:00:00:01", s)
	}
	for i, part := range parts {
		v, err := strconv.ParseUint(part, 16, 8)
		if err != nil || len(part) > 2 {
			return m, fmt.Errorf("invalid MAC address %q: bad byte %q", s, part)
		}
		m[i] = byte(v)
	}
	return m, nil
}

// MustParseMAC is ParseMAC for constants in tests; it panics on bad input.
func MustParseMAC(s string) MAC {
	m, err := ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *MAC) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "MAC address must be a string like 02:00:00:00:00:01")
	}
	v, err := ParseMAC(n.Value)
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*m = v
	return nil
}

// IsZero reports whether m is 00:00:00:00:00:00, for YAML's omitempty.
func (m MAC) IsZero() bool { return m == MAC{} }

// MarshalYAML implements yaml.Marshaler.
func (m MAC) MarshalYAML() (any, error) { return m.String(), nil }

// nodeError returns an error that yaml.v3 collects with its own, in its
// "line N: message" form, instead of stopping at the first one.
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// Bytes is a byte string. In YAML it is a string taken as is, or hex bytes
// after a "hex:" prefix ("hex:de ad be ef"; spaces and colons are ignored).
// An empty string gives an empty, non-nil Bytes, which Diff compares.
type Bytes []byte

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "bytes must be a string, or hex after \"hex:\"")
	}
	if h, ok := strings.CutPrefix(n.Value, "hex:"); ok {
		v, err := decodeHex(h)
		if err != nil {
			return nodeError(n, "%v", err)
		}
		*b = v
		return nil
	}
	*b = append([]byte{}, n.Value...)
	return nil
}

// MarshalYAML writes printable text (with \r, \n and \t) as a string, and
// anything else as hex.
func (b Bytes) MarshalYAML() (any, error) {
	s := b.text()
	if strings.ContainsAny(s, "\r\n\t") {
		// yaml.v3 can lose a line break in block style; quote instead.
		return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: s}, nil
	}
	return s, nil
}

// text is the YAML form of b, as a Go string.
func (b Bytes) text() string {
	s := string(b)
	if utf8.ValidString(s) && !strings.HasPrefix(s, "hex:") && strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) && !strings.ContainsRune("\r\n\t", r)
	}) < 0 {
		return s
	}
	return "hex:" + hex.EncodeToString(b)
}

func (b Bytes) String() string { return fmt.Sprintf("%d bytes %q", len(b), b.text()) }

// Hex is a byte string that YAML always gives in hex, with an optional
// "hex:" prefix; spaces and colons are ignored.
type Hex []byte

// UnmarshalYAML implements yaml.Unmarshaler.
func (h *Hex) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "hex bytes must be a string")
	}
	v, err := decodeHex(strings.TrimPrefix(n.Value, "hex:"))
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*h = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (h Hex) MarshalYAML() (any, error) { return "hex:" + hex.EncodeToString(h), nil }

func decodeHex(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ':' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid hex bytes: %v", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

var (
	tcpFlagNames  = []string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ae"}
	ipv4FlagNames = []string{"mf", "df", "rf"}
)

func (f TCPFlags) String() string  { return flagString(uint16(f), tcpFlagNames) }
func (f IPv4Flags) String() string { return flagString(uint16(f), ipv4FlagNames) }

// UnmarshalYAML accepts a list of names ([syn, ack]), names separated by
// commas, "|" or spaces ("syn|ack"), or a number.
func (f *TCPFlags) UnmarshalYAML(n *yaml.Node) error {
	v, err := decodeFlags(n, "TCP", tcpFlagNames, 12)
	*f = TCPFlags(v)
	return err
}

// UnmarshalYAML accepts the forms TCPFlags does, with the names mf, df, rf.
func (f *IPv4Flags) UnmarshalYAML(n *yaml.Node) error {
	v, err := decodeFlags(n, "IPv4", ipv4FlagNames, 3)
	*f = IPv4Flags(v)
	return err
}

// MarshalYAML writes a flow list of names.
func (f TCPFlags) MarshalYAML() (any, error) { return flagNode(uint16(f), tcpFlagNames), nil }

// MarshalYAML writes a flow list of names.
func (f IPv4Flags) MarshalYAML() (any, error) { return flagNode(uint16(f), ipv4FlagNames), nil }

// flagString joins the names of the set bits with "|"; a set with bits
// without a name is shown as a number.
func flagString(v uint16, names []string) string {
	switch {
	case v == 0:
		return "none"
	case v>>len(names) != 0:
		return fmt.Sprintf("%#x", v)
	}
	var s []string
	for i, name := range names {
		if v&(1<<i) != 0 {
			s = append(s, name)
		}
	}
	return strings.Join(s, "|")
}

func flagNode(v uint16, names []string) *yaml.Node {
	if v>>len(names) != 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprintf("%#x", v)}
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for i, name := range names {
		if v&(1<<i) != 0 {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name})
		}
	}
	return n
}

func decodeFlags(n *yaml.Node, what string, names []string, bits int) (uint16, error) {
	var words []*yaml.Node
	switch n.Kind {
	case yaml.SequenceNode:
		words = n.Content
	case yaml.ScalarNode:
		if v, err := strconv.ParseUint(n.Value, 0, 16); err == nil {
			if v>>bits != 0 {
				return 0, nodeError(n, "%s flags %s do not fit in %d bits", what, n.Value, bits)
			}
			return uint16(v), nil
		}
		for _, w := range strings.FieldsFunc(n.Value, func(r rune) bool { return r == ',' || r == '|' || unicode.IsSpace(r) }) {
			words = append(words, &yaml.Node{Kind: yaml.ScalarNode, Value: w, Line: n.Line, Column: n.Column})
		}
	default:
		return 0, nodeError(n, "%s flags must be a list of names like [%s]", what, names[1])
	}
	var v uint16
	var errs []string
	for _, w := range words {
		i := -1
		if w.Kind == yaml.ScalarNode {
			i = index(names, strings.ToLower(w.Value))
		}
		if i < 0 {
			errs = append(errs, fmt.Sprintf("line %d: unknown %s flag %q (want one of %s)",
				w.Line, what, w.Value, strings.Join(names, ", ")))
			continue
		}
		v |= 1 << i
	}
	if errs != nil {
		return 0, &yaml.TypeError{Errors: errs}
	}
	return v, nil
}

func index(names []string, s string) int {
	for i, name := range names {
		if name == s {
			return i
		}
	}
	return -1
}

func (t EtherType) String() string { return fmt.Sprintf("%#04x", uint16(t)) }

// MarshalYAML writes the type in hex, as in 0x0800.
func (t EtherType) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: t.String()}, nil
}

// UnmarshalYAML accepts {type: N, data: BYTES} (data as in Bytes; the
// single-byte types 0 and 1 take no data) or {dsr: "ADDR:PORT"} for
// DSROption. It checks its keys itself, always strictly.
func (o *IPv4Option) UnmarshalYAML(n *yaml.Node) error {
	const want = `IPv4 option must be {type: N, data: ...} or {dsr: "10.96.0.10:80"}`
	if n.Kind != yaml.MappingNode {
		return nodeError(n, want)
	}
	var errs []string
	var typ, dsr *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "type":
			typ = v
			if err := v.Decode(&o.Type); err != nil {
				errs = append(errs, typeErrors(err, v)...)
			}
		case "data":
			if err := v.Decode(&o.Data); err != nil {
				errs = append(errs, typeErrors(err, v)...)
			}
		case "dsr":
			dsr = v
			svc, err := netip.ParseAddrPort(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode || !svc.Addr().Is4() {
				errs = append(errs, fmt.Sprintf("line %d: invalid DSR service %q: want IPv4 ADDR:PORT", v.Line, v.Value))
				continue
			}
			*o = DSROption(svc)
		default:
			errs = append(errs, fmt.Sprintf("line %d: unknown IPv4 option key %q (want type, data or dsr)", k.Line, k.Value))
		}
	}
	switch {
	case dsr != nil && (typ != nil || len(n.Content) > 2):
		errs = append(errs, fmt.Sprintf("line %d: dsr excludes type and data", dsr.Line))
	case dsr == nil && typ == nil:
		errs = append(errs, fmt.Sprintf("line %d: %s", n.Line, want))
	}
	if errs != nil {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// typeErrors returns the messages of an error from decoding node v.
func typeErrors(err error, v *yaml.Node) []string {
	if te, ok := err.(*yaml.TypeError); ok {
		return te.Errors
	}
	return []string{fmt.Sprintf("line %d: %v", v.Line, err)}
}

// MarshalYAML writes a DSR option as {dsr: ADDR:PORT} and others as
// {type: N, data: ...}.
func (o IPv4Option) MarshalYAML() (any, error) {
	if svc, ok := o.DSR(); ok {
		return map[string]string{"dsr": svc.String()}, nil
	}
	return struct {
		Type uint8 `yaml:"type"`
		Data Bytes `yaml:"data,omitempty"`
	}{o.Type, o.Data}, nil
}
