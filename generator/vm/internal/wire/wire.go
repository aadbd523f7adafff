// Package wire is the protocol between package vm, on the host, and the agent
// it runs as /init inside a virtual machine.
//
// The host puts a Request into the initramfs at RequestPath. The agent
// answers on the serial console with records: a Hello, one Object per object
// in the request, in order, and a final Exit. A record is framed as
//
//	=== dpforge-vm begin <kind> ===
//	<base64 of the gzip of the record's JSON, in lines of 76 characters>
//	=== dpforge-vm end <kind> sha256=<hex of the gzip bytes> ===
//
// and everything else on the console (the kernel's messages) is ignored.
// The JSON is compressed because verifier logs run to megabytes and the
// emulated serial port is the slowest part of the run; the checksum catches
// a kernel message printed into the middle of a record.
//
// This package imports only the standard library and bpf/manifest (itself
// standard library only): the agent must not pull in anything that touches
// BPF before /proc is mounted.
package wire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// Paths inside the initramfs.
const (
	// RequestPath holds the JSON Request.
	RequestPath = "/dpforge/request.json"
	// ObjectDir holds the objects, named by their index: 0.o, 1.o, ...
	ObjectDir = "/dpforge/objects"
	// ScenarioDir holds the packet scenarios, named by their index:
	// 0.yaml, 1.yaml, ...
	ScenarioDir = "/dpforge/scenarios"
)

// LoadingPrefix starts the plain console line the agent prints before it
// loads an object ("dpforge-vm: loading <name>"), so that the host can
// name the object if the machine dies on it.
const LoadingPrefix = "dpforge-vm: loading "

// Record kinds.
const (
	KindHello  = "hello"
	KindObject = "object"
	KindProbe  = "probe"
	KindExit   = "exit"
	// KindTraffic is the outcome of a TrafficRequest, sent before Exit.
	KindTraffic = "traffic"
)

// TestPrefix starts each line of the traffic suite's output the agent
// copies to the console, so the host can show the run as it goes.
const TestPrefix = "dpforge-vm: test: "

// Request is what the agent is asked to do.
type Request struct {
	Objects []ObjectRequest `json:"objects"`
	// Scenarios are the packet scenarios objects may name, by path
	// inside the initramfs.
	Scenarios []string `json:"scenarios,omitempty"`
	// Probe asks for a Probe record (features/probe on the guest
	// kernel) after the Hello.
	Probe bool `json:"probe,omitempty"`
	// Modules are kernel modules inside the initramfs, loaded with
	// finit_module in this order before anything else.
	Modules []string `json:"modules,omitempty"`
	// Traffic asks the agent to run a test program (the loader's traffic
	// suite) and report its cases in a Traffic record.
	Traffic *TrafficRequest `json:"traffic,omitempty"`
}

// TrafficRequest runs the traffic suite's test binary in the guest.
type TrafficRequest struct {
	// Binary is the test binary's path inside the initramfs; Args and
	// Env are its arguments and its whole environment.
	Binary string   `json:"binary"`
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	// Record is the file the suite appends one JSON line per case to
	// (TrafficCase).
	Record string `json:"record"`
	// TimeoutSec bounds the run; the agent kills the binary after it.
	TimeoutSec int `json:"timeout_sec"`
}

// TrafficCase is one case of the traffic suite, as the suite records it.
type TrafficCase struct {
	// Test is the Go test's full name.
	Test string `json:"test"`
	// Node is the default matrix's node whose variant ran, Variant its id.
	Node    string `json:"node,omitempty"`
	Variant string `json:"variant,omitempty"`
	// Attach is how the loader attached on this kernel: "tcx" or "tc".
	Attach string `json:"attach,omitempty"`
	// Result is "pass", "fail" or "skip"; Reason says why a case was
	// skipped or how it failed first.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	Millis int64  `json:"millis,omitempty"`
}

// Traffic is the outcome of a TrafficRequest.
type Traffic struct {
	// Cases are the suite's records, in the order written.
	Cases []TrafficCase `json:"cases"`
	// ExitCode is the binary's exit status (-1 when it was killed);
	// Error says why it could not run or was killed.
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// Tail is the end of the binary's output.
	Tail   []string `json:"tail,omitempty"`
	Millis int64    `json:"millis"`
}

// ObjectRequest is one object to load.
type ObjectRequest struct {
	// Name identifies the object in the answer (a variant id).
	Name string `json:"name"`
	// Path is the object's path inside the initramfs.
	Path string `json:"path"`
	// Programs to load; empty means all of them.
	Programs []string `json:"programs,omitempty"`
	// Scenarios to run on the object after loading it: indices into
	// Request.Scenarios.
	Scenarios []int `json:"scenarios,omitempty"`
}

// Hello describes the kernel the agent runs on. It is sent first.
type Hello struct {
	// Release is uname -r.
	Release string `json:"release"`
	// Version is the content of /proc/version.
	Version string `json:"version"`
	// BTF says whether /sys/kernel/btf/vmlinux exists.
	BTF bool `json:"btf"`
	// Config is the kernel configuration file the agent found for
	// cilium/ebpf's .kconfig support, or "".
	Config string `json:"config,omitempty"`
	// Warnings are setup steps that failed without stopping the agent
	// (a mount, the memlock rlimit, a module).
	Warnings []string `json:"warnings,omitempty"`
	// Modules are the requested modules the kernel took (or already had).
	Modules []string `json:"modules,omitempty"`
}

// Object is the outcome of loading one object.
type Object struct {
	Name string `json:"name"`
	// Programs in the order of the request, or sorted by name when the
	// request named none.
	Programs []Program `json:"programs"`
	// Error is set when the object as a whole could not be tried (it
	// did not parse, a requested program is missing).
	Error string `json:"error,omitempty"`
	// Millis is how long loading the object took, in milliseconds.
	Millis int64 `json:"millis"`
	// Scenarios are the outcomes of the requested scenarios, in order.
	Scenarios []Scenario `json:"scenarios,omitempty"`
	// ScenarioLoads is how many times the scenarios loaded the object,
	// ScenarioLoadMillis how long those loads took in all, and
	// ScenarioInstructions the instructions the verifier processed in
	// them (0 where the kernel does not report it, before 5.16).
	ScenarioLoads        int    `json:"scenario_loads,omitempty"`
	ScenarioLoadMillis   int64  `json:"scenario_load_millis,omitempty"`
	ScenarioInstructions uint64 `json:"scenario_instructions,omitempty"`
}

// Scenario is the outcome of one packet scenario on one object.
type Scenario struct {
	// Index is the scenario's index in Request.Scenarios.
	Index int `json:"index"`
	// Name is the scenario's name.
	Name string `json:"name"`
	// Status is "pass" or "fail".
	Status string `json:"status"`
	// Failures are the expectations that did not hold; Error is set when
	// the scenario could not run (the object did not load, a run failed).
	Failures []string `json:"failures,omitempty"`
	Error    string   `json:"error,omitempty"`
	// Micros is the scenario's wall time in the guest, in microseconds.
	Micros int64 `json:"micros"`
}

// Probe is what features/probe found on the guest kernel.
type Probe struct {
	// Capabilities maps a capability name to whether the kernel has it.
	Capabilities map[string]bool `json:"capabilities"`
	// Inconclusive maps a capability to why the probe could not decide.
	Inconclusive map[string]string `json:"inconclusive,omitempty"`
	// Error is set when the probe could not run at all.
	Error string `json:"error,omitempty"`
}

// Program is the outcome of loading one program.
type Program struct {
	Name string `json:"name"`
	// Instructions is the number of instructions the verifier processed.
	// Zero when the program was rejected or the count is unknown.
	Instructions uint32 `json:"instructions,omitempty"`
	// Source says where Instructions came from: CountFromInfo or
	// CountFromLog.
	Source string `json:"source,omitempty"`
	// StackDepth is the stack the program uses in bytes, from the
	// verifier's "stack depth" line: its "max N" (7.x), else its
	// per-function sizes ("8+16") added up; 0 when unknown.
	StackDepth uint32 `json:"stack_depth,omitempty"`
	// VerifyMicros is the verifier's own "verification time" in
	// microseconds (kernels from 5.7 print it); 0 when unknown.
	VerifyMicros uint64 `json:"verify_us,omitempty"`
	// InsnLimit is the verifier's "(limit N)" of processed instructions,
	// 0 when the log does not say.
	InsnLimit uint32 `json:"insn_limit,omitempty"`
	// Loads is 0 when these figures come from a load of the program with
	// the object's own values, else the number of scenario loads (each
	// with its scenario's values) they are the largest of.
	Loads int `json:"loads,omitempty"`
	// Error is the load error of a rejected program, and Log the full
	// verifier log (empty when the kernel refused before verifying, e.g.
	// while creating a map).
	Error string   `json:"error,omitempty"`
	Log   []string `json:"log,omitempty"`
}

// Where a count came from.
const (
	// CountFromInfo: bpf_prog_info.verified_insns (kernels from 5.16).
	CountFromInfo = "info"
	// CountFromLog: the "processed N insns" line of the verifier's
	// statistics (kernels before 5.16 only have that).
	CountFromLog = "log"
)

// Exit is the last record: the agent is about to power the machine off.
type Exit struct {
	// Error is set when the agent could not do its job (no request, a
	// panic); per-object problems are in the Object records.
	Error string `json:"error,omitempty"`
}

const (
	markerPrefix = "=== dpforge-vm "
	markerSuffix = " ==="
	lineWidth    = 76
)

// Encode writes one framed record.
func Encode(w io.Writer, kind string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s record: %w", kind, err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing %s record: %w", kind, err)
	}
	sum := sha256.Sum256(gz.Bytes())
	b64 := base64.StdEncoding.EncodeToString(gz.Bytes())

	var out strings.Builder
	// A leading newline: the record must start on a line of its own even
	// if something left the cursor mid-line.
	fmt.Fprintf(&out, "\n%sbegin %s%s\n", markerPrefix, kind, markerSuffix)
	for len(b64) > 0 {
		n := min(lineWidth, len(b64))
		out.WriteString(b64[:n])
		out.WriteByte('\n')
		b64 = b64[n:]
	}
	fmt.Fprintf(&out, "%send %s sha256=%s%s\n", markerPrefix, kind, hex.EncodeToString(sum[:]), markerSuffix)
	_, err = io.WriteString(w, out.String())
	return err
}

// Record is one decoded record: its kind and JSON.
type Record struct {
	Kind string
	JSON []byte
}

// CorruptError is a record whose content does not match its checksum or
// does not decode.
type CorruptError struct {
	Kind string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt %q record on the console: %v", e.Kind, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Decoder reads records from a console stream.
type Decoder struct {
	sc *bufio.Scanner
	// Other receives every console line that is not part of a record,
	// without its line ending, if set.
	Other func(line string)
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	sc := bufio.NewScanner(r)
	// Console lines are short, but a kernel message may land in the
	// middle of a base64 line; allow generous lines.
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	return &Decoder{sc: sc}
}

// Next returns the next record, io.EOF at the end of the stream, or a
// *CorruptError for a damaged record (Next may be called again after it).
// A begin marker without an end marker before the stream ends is
// io.ErrUnexpectedEOF.
func (d *Decoder) Next() (Record, error) {
	for d.sc.Scan() {
		line := strings.TrimRight(d.sc.Text(), "\r")
		kind, ok := parseMarker(line, "begin ")
		if !ok {
			if d.Other != nil {
				d.Other(line)
			}
			continue
		}
		return d.body(kind)
	}
	if err := d.sc.Err(); err != nil {
		return Record{}, err
	}
	return Record{}, io.EOF
}

// body reads the lines of a record after its begin marker.
func (d *Decoder) body(kind string) (Record, error) {
	var b64 strings.Builder
	for d.sc.Scan() {
		line := strings.TrimSpace(d.sc.Text())
		if rest, ok := parseMarker(line, "end "); ok {
			endKind, sumHex, _ := strings.Cut(rest, " sha256=")
			if endKind != kind {
				return Record{}, &CorruptError{kind, fmt.Errorf("ends as %q", endKind)}
			}
			return decodeBody(kind, b64.String(), sumHex)
		}
		if _, ok := parseMarker(line, "begin "); ok {
			return Record{}, &CorruptError{kind, errors.New("a new record begins before its end")}
		}
		if isBase64(line) {
			b64.WriteString(line)
		} else if d.Other != nil {
			// A kernel message between two lines of the record.
			d.Other(line)
		}
	}
	if err := d.sc.Err(); err != nil {
		return Record{}, err
	}
	return Record{}, io.ErrUnexpectedEOF
}

func decodeBody(kind, b64, sumHex string) (Record, error) {
	gz, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Record{}, &CorruptError{kind, err}
	}
	sum := sha256.Sum256(gz)
	if hex.EncodeToString(sum[:]) != sumHex {
		return Record{}, &CorruptError{kind, errors.New("checksum mismatch")}
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return Record{}, &CorruptError{kind, err}
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return Record{}, &CorruptError{kind, err}
	}
	if !json.Valid(data) {
		return Record{}, &CorruptError{kind, errors.New("not JSON")}
	}
	return Record{Kind: kind, JSON: data}, nil
}

// parseMarker returns what follows "=== dpforge-vm <verb>" on a marker line.
func parseMarker(line, verb string) (string, bool) {
	line = strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(line, markerPrefix+verb)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, markerSuffix)
	return rest, ok && rest != ""
}

func isBase64(line string) bool {
	if line == "" {
		return false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// ParseStats reads the statistics lines of a verifier log (see
// manifest.ParseVerifierStats, and its calls) into a Program: Instructions
// from the log, InsnLimit, StackDepth, VerifyMicros; what the log does not
// say stays zero.
func ParseStats(log string, calls [][]int) Program {
	h := manifest.ParseVerifierStats(log, calls)
	p := Program{Instructions: h.Instructions, InsnLimit: h.InsnLimit, StackDepth: h.StackDepth, VerifyMicros: h.VerifyMicros}
	if h.Instructions > 0 {
		p.Source = CountFromLog
	}
	return p
}
