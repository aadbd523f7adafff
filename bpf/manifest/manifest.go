package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SchemaVersion is the version of the manifest format written by this
// package. Bump it on any change that an older reader would misread.
const SchemaVersion = 1

// ErrSchemaVersion is returned (wrapped) by [Load] and [Unmarshal] for a
// manifest written with a schema version this package does not read.
var ErrSchemaVersion = errors.New("unsupported manifest schema version")

// Manifest is the content of OUTDIR/manifest.json.
type Manifest struct {
	SchemaVersion int `json:"schema_version"`
	// Matrix names the input matrix file and Inputs is its sha256, given
	// by the caller, so a stale manifest can be told from a current one.
	// They are provenance: no object depends on them (the variant headers,
	// part of the objects' cache keys, do not carry them), so the same
	// matrix renamed or with a comment added compiles nothing.
	Matrix    string    `json:"matrix,omitempty"`
	Inputs    string    `json:"inputs"`
	Toolchain Toolchain `json:"toolchain"`
	// Variants, sorted by ID.
	Variants []Variant `json:"variants"`
	// Nodes, sorted by Name.
	Nodes []Node `json:"nodes"`
}

// Toolchain identifies the compiler and flags the objects were built with.
type Toolchain struct {
	// Compiler is the first line of "clang --version".
	Compiler string `json:"compiler"`
	// Strip is the first line of "llvm-strip --version".
	Strip string `json:"strip"`
	// Flags are the compiler flags common to every variant; the per-variant
	// -mcpu and -target are recorded as Variant.CPU and Variant.Target.
	Flags []string `json:"flags"`
}

// Variant is one compiled datapath object.
type Variant struct {
	ID string `json:"id"`
	// Defines are the compile-time #defines of the variant header.
	Defines map[string]string `json:"defines"`
	CPU     string            `json:"cpu"`
	Target  string            `json:"target"`
	// Kernels are the names of the kernel profiles this variant serves.
	Kernels []string `json:"kernels"`
	// Object is the path of the object file, relative to the directory of
	// the manifest, with forward slashes.
	Object    string    `json:"object"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Programs  []Program `json:"programs"`
	Maps      []Map     `json:"maps"`
	Variables []string  `json:"variables"`
	// Tested maps a kernel release to the packet scenarios run on the
	// variant there ("dpforge test", also inside VMs).
	Tested map[string]TestSummary `json:"tested,omitempty"`
	// Traffic maps a kernel release to the traffic suite's cases run on
	// the variant there: real packets through a loaded and attached
	// datapath in network namespaces ("dpforge test --vm --traffic").
	Traffic map[string]TrafficSummary `json:"traffic,omitempty"`
}

// TrafficSummary counts the traffic suite's cases of a variant on one
// kernel, and says how the loader attached there: "tcx", "tc", or both
// ("tc,tcx") when cases ran in each mode.
type TrafficSummary struct {
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped,omitempty"`
	Attach  string `json:"attach,omitempty"`
}

// TestSummary counts the packet scenarios of a variant on one kernel.
type TestSummary struct {
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

// Headroom is what the verifier reported for a program on one kernel,
// against its limits.
type Headroom struct {
	// Instructions is the number of instructions the verifier processed,
	// InsnLimit its limit (1,000,000 since 5.2).
	Instructions uint32 `json:"insns"`
	InsnLimit    uint32 `json:"insn_limit"`
	// StackDepth is the stack the program's functions use, in bytes,
	// summed (the kernel allows 512 along a call chain); 0 when unknown.
	StackDepth uint32 `json:"stack_depth,omitempty"`
	// VerifyMicros is the verifier's own time, in microseconds; 0 when the
	// kernel does not say.
	VerifyMicros uint64 `json:"verify_us,omitempty"`
	// ScenarioLoads is 0 when the figures come from a load with the
	// object's own values, else the number of loads by packet scenarios
	// (each with its scenario's values) whose largest they are.
	ScenarioLoads int `json:"scenario_loads,omitempty"`
}

// Program is one BPF program of a variant.
type Program struct {
	Name string `json:"name"`
	// Type is the program type as printed by cilium/ebpf, e.g. "SchedCLS".
	Type string `json:"type"`
	// Section is the ELF section the program was found in, e.g. "tc".
	Section string `json:"section,omitempty"`
	// Verified maps a kernel release (uname -r) to the number of
	// instructions the verifier processed on it.
	Verified map[string]uint32 `json:"verified,omitempty"`
	// Headroom maps a kernel release to the verifier's statistics there.
	Headroom map[string]Headroom `json:"headroom,omitempty"`
}

// Map is one BPF map of a variant. Internal maps (.rodata, .bss, ...) are not
// listed; their variables are.
type Map struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
}

// Node is one machine of the input matrix.
type Node struct {
	Name    string `json:"name"`
	Kernel  string `json:"kernel"`
	Variant string `json:"variant"`
	// Values are the load-time values: variable name to value, as text.
	Values map[string]string `json:"values,omitempty"`
	// MapSizes are map-creation values: map name to the MaxEntries the
	// loader sets on its MapSpec before creating the map (from Cilium's
	// bpf-ct-global-*-max and bpf-nat-global-max). A map not listed keeps
	// the object's size.
	MapSizes map[string]uint32 `json:"map_sizes,omitempty"`
}

// Variant returns the variant with the given id, or nil.
func (m *Manifest) Variant(id string) *Variant {
	i, ok := slices.BinarySearchFunc(m.Variants, id, func(v Variant, id string) int {
		return strings.Compare(v.ID, id)
	})
	if ok {
		return &m.Variants[i]
	}
	// Not normalized yet: fall back to a scan.
	for i := range m.Variants {
		if m.Variants[i].ID == id {
			return &m.Variants[i]
		}
	}
	return nil
}

// CarryVerified copies the records of prev (verifier counts, headroom,
// scenario and traffic outcomes) into m for every variant whose object is
// byte-identical (same SHA256) in both, where m has none for that kernel.
// A rebuilt object loses them: they have to be measured again.
func (m *Manifest) CarryVerified(prev *Manifest) { m.mergeRecords(prev, false) }

// UpdateRecords writes the records of newer into m, replacing m's for the
// same kernel, for every variant whose object is byte-identical in both:
// a run's results go into the manifest on disk, which a build may have
// rewritten meanwhile.
func (m *Manifest) UpdateRecords(newer *Manifest) { m.mergeRecords(newer, true) }

// mergeRecords merges the records of other into m's; with replace, other's
// win where both have a kernel, else m's stay.
func (m *Manifest) mergeRecords(other *Manifest, replace bool) {
	if other == nil {
		return
	}
	for i := range m.Variants {
		v := &m.Variants[i]
		o := other.Variant(v.ID)
		if o == nil || o.SHA256 != v.SHA256 {
			continue
		}
		v.Tested = mergeMap(v.Tested, o.Tested, replace)
		v.Traffic = mergeMap(v.Traffic, o.Traffic, replace)
		for j := range v.Programs {
			p := &v.Programs[j]
			for _, op := range o.Programs {
				if op.Name != p.Name {
					continue
				}
				p.Verified = mergeMap(p.Verified, op.Verified, replace)
				p.Headroom = mergeMap(p.Headroom, op.Headroom, replace)
			}
		}
	}
}

// mergeMap adds the entries of src to dst: those dst lacks, or with
// replace all of them.
func mergeMap[V any](dst, src map[string]V, replace bool) map[string]V {
	for k, v := range src {
		if dst == nil {
			dst = make(map[string]V, len(src))
		}
		if _, ok := dst[k]; replace || !ok {
			dst[k] = v
		}
	}
	return dst
}

// Normalize sorts every slice of m into the canonical order and replaces
// nil slices and maps by empty ones, so that encoding is deterministic and a
// Load of a written manifest compares equal to what was written.
func (m *Manifest) Normalize() {
	if m.Toolchain.Flags == nil {
		m.Toolchain.Flags = []string{}
	}
	m.Variants = nonNil(m.Variants)
	m.Nodes = nonNil(m.Nodes)
	// Flags keep their order: it is the compiler's command line.
	slices.SortFunc(m.Variants, func(a, b Variant) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(m.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	for i := range m.Variants {
		v := &m.Variants[i]
		if v.Defines == nil {
			v.Defines = map[string]string{}
		}
		v.Kernels = nonNil(v.Kernels)
		v.Programs = nonNil(v.Programs)
		v.Maps = nonNil(v.Maps)
		v.Variables = nonNil(v.Variables)
		slices.Sort(v.Kernels)
		slices.Sort(v.Variables)
		slices.SortFunc(v.Programs, func(a, b Program) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(v.Maps, func(a, b Map) int { return strings.Compare(a.Name, b.Name) })
		if len(v.Tested) == 0 {
			v.Tested = nil
		}
		for j := range v.Programs {
			if len(v.Programs[j].Verified) == 0 {
				v.Programs[j].Verified = nil
			}
			if len(v.Programs[j].Headroom) == 0 {
				v.Programs[j].Headroom = nil
			}
		}
	}
	for i := range m.Nodes {
		if len(m.Nodes[i].Values) == 0 {
			m.Nodes[i].Values = nil
		}
	}
}

func nonNil[S ~[]E, E any](s S) S {
	if s == nil {
		return S{}
	}
	return s
}

// Marshal returns the canonical encoding of m. It normalizes m in place and
// sets SchemaVersion if it is zero.
func Marshal(m *Manifest) ([]byte, error) {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = SchemaVersion
	}
	m.Normalize()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Keep '<', '>' and '&' readable in defines such as "(1 << 3)".
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil { // Encode ends with the newline.
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes a manifest, rejecting unknown fields and unsupported
// schema versions, and normalizes it.
func Unmarshal(data []byte) (*Manifest, error) {
	var probe struct {
		SchemaVersion int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if probe.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("schema version %d, want %d: %w", probe.SchemaVersion, SchemaVersion, ErrSchemaVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	m.Normalize()
	return &m, nil
}

// Load reads and decodes the manifest at path.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// StackLimit is the kernel's limit on a program's stack along a call chain.
const StackLimit = 512

// HeadroomWarn is the share of a limit above which a program is worth a
// warning: it has little room left to grow on that kernel.
const HeadroomWarn = 0.8

// Tight names the limits h uses more than HeadroomWarn of, e.g.
// "instructions 850000/1000000 (85%)".
func (h Headroom) Tight() []string {
	var out []string
	check := func(what string, used, limit uint64) {
		if limit > 0 && float64(used) > HeadroomWarn*float64(limit) {
			out = append(out, fmt.Sprintf("%s %d/%d (%d%%)", what, used, limit, used*100/limit))
		}
	}
	check("instructions", uint64(h.Instructions), uint64(h.InsnLimit))
	check("stack bytes", uint64(h.StackDepth), StackLimit)
	return out
}

// The verifier's statistics lines (ebpf.LogLevelStats), as kernels print
// them:
//
//	verification time 1234 usec          (5.7+)
//	stack depth 64+0+16                  (one size per function)
//	stack depth max 80                   (7.x: the deepest call chain)
//	processed 12248 insns (limit 1000000) max_states_per_insn 4 ...
var (
	processedRe = regexp.MustCompile(`(?m)^processed (\d+) insns(?: \(limit (\d+)\))?`)
	stackRe     = regexp.MustCompile(`(?m)^stack depth (?:max )?([0-9+]+)`)
	timeRe      = regexp.MustCompile(`(?m)^verification time (\d+) usec`)
)

// ParseVerifierStats reads the statistics lines of a verifier log: the
// processed instructions and the limit, the stack depth and the
// verification time. What the log does not say stays zero.
//
// The stack depth is the log's "max N" where it says so (7.x). Older
// kernels list one frame size per function ("stack depth 64+0+16"): given
// the program's call graph (calls[f], the functions function f calls, all
// numbered in the order the log lists them; see loader.CallGraph), it is
// the deepest call chain's, as the kernel checks it against StackLimit;
// without it, or when it does not match the log, the sizes added up (an
// upper bound).
func ParseVerifierStats(log string, calls [][]int) Headroom {
	var h Headroom
	if m := processedRe.FindStringSubmatch(log); m != nil {
		if n, err := strconv.ParseUint(m[1], 10, 32); err == nil {
			h.Instructions = uint32(n)
		}
		if n, err := strconv.ParseUint(m[2], 10, 32); err == nil {
			h.InsnLimit = uint32(n)
		}
	}
	if m := stackRe.FindStringSubmatch(log); m != nil {
		var frames []uint32
		for _, part := range strings.Split(m[1], "+") {
			if n, err := strconv.ParseUint(part, 10, 32); err == nil {
				frames = append(frames, uint32(n))
				h.StackDepth += uint32(n)
			}
		}
		if d, ok := chainStack(calls, frames); ok {
			h.StackDepth = d
		}
	}
	if m := timeRe.FindStringSubmatch(log); m != nil {
		h.VerifyMicros, _ = strconv.ParseUint(m[1], 10, 64)
	}
	return h
}

// chainStack returns the stack of the deepest call chain from function 0,
// where function f uses frames[f] bytes and calls calls[f]; ok is false
// when the two do not match or the calls go in a cycle.
func chainStack(calls [][]int, frames []uint32) (uint32, bool) {
	if len(frames) == 0 || len(calls) != len(frames) {
		return 0, false
	}
	const onPath = -1
	depth := make([]int64, len(frames)) // 0: not yet, else depth+1
	var visit func(f int) (uint32, bool)
	visit = func(f int) (uint32, bool) {
		if f < 0 || f >= len(frames) || depth[f] == onPath {
			return 0, false
		}
		if depth[f] == 0 {
			depth[f] = onPath
			var deepest uint32
			for _, c := range calls[f] {
				d, ok := visit(c)
				if !ok {
					return 0, false
				}
				deepest = max(deepest, d)
			}
			depth[f] = int64(frames[f]+deepest) + 1
		}
		return uint32(depth[f] - 1), true
	}
	return visit(0)
}
