package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/packet"
)

// Status is the outcome of a scenario.
type Status string

// Statuses of a Result.
const (
	Pass Status = "pass"
	Fail Status = "fail"
)

// Result is what Run found. It encodes to YAML (and JSON) for reports.
type Result struct {
	Name   string `yaml:"name" json:"name"`
	File   string `yaml:"file,omitempty" json:"file,omitempty"`
	Status Status `yaml:"status" json:"status"`
	// Runs has one entry per packet: the scenario's own, then its steps.
	Runs []RunResult `yaml:"runs" json:"runs"`
	// Duration is the wall time of Run, loading included.
	Duration time.Duration `yaml:"duration" json:"duration"`
}

// RunResult is the outcome of one packet.
type RunResult struct {
	// Step is "" for the scenario's own packet, else the step's name or
	// "step N".
	Step    string  `yaml:"step,omitempty" json:"step,omitempty"`
	Program string  `yaml:"program" json:"program"`
	Verdict Verdict `yaml:"verdict" json:"verdict"`
	// Packet is the output parsed by packet.Parse; ParseError is set when
	// parsing stopped early.
	Packet     *packet.Packet `yaml:"packet,omitempty" json:"packet,omitempty"`
	ParseError string         `yaml:"parse-error,omitempty" json:"parse_error,omitempty"`
	// Output is the output packet's bytes.
	Output packet.Hex `yaml:"output" json:"output"`
	// Ctx is the __sk_buff the kernel copied back.
	Ctx      *Ctx      `yaml:"ctx" json:"ctx"`
	Failures []Failure `yaml:"failures,omitempty" json:"failures,omitempty"`
	// Duration is the wall time of the BPF_PROG_TEST_RUN call.
	Duration time.Duration `yaml:"duration" json:"duration"`
}

// Failure is one expectation that did not hold.
type Failure struct {
	Step string `yaml:"step,omitempty" json:"step,omitempty"`
	// Check is "verdict", "packet", "ctx" or "maps.NAME".
	Check   string `yaml:"check" json:"check"`
	Message string `yaml:"message" json:"message"`
}

func (f Failure) String() string {
	if f.Step != "" {
		return fmt.Sprintf("%s: %s: %s", f.Step, f.Check, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.Check, f.Message)
}

// Passed reports whether every expectation held.
func (r *Result) Passed() bool { return r.Status == Pass }

// Failures returns the failures of all runs, in order.
func (r *Result) Failures() []Failure {
	var out []Failure
	for _, rr := range r.Runs {
		out = append(out, rr.Failures...)
	}
	return out
}

// Report describes the result for people: one line when it passed, else a
// line per failure, with multi-line messages indented. It has no timings,
// so it is stable from run to run.
func (r *Result) Report() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s", strings.ToUpper(string(r.Status)), r.Name)
	if r.File != "" {
		fmt.Fprintf(&sb, " (%s)", r.File)
	}
	sb.WriteString("\n")
	for _, f := range r.Failures() {
		sb.WriteString("  " + strings.ReplaceAll(f.String(), "\n", "\n  ") + "\n")
	}
	return sb.String()
}
