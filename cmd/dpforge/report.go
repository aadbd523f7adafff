package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// reportRow is one variant on one kernel release.
type reportRow struct {
	Variant string   `json:"variant"`
	Serves  []string `json:"serves"`
	Kernel  string   `json:"kernel"`
	// Verified: every program of the variant loaded there.
	Verified bool `json:"verified"`
	// Passed and Failed count the packet scenarios run there; Tested is
	// false when none ran.
	Tested bool `json:"tested"`
	Passed int  `json:"passed"`
	Failed int  `json:"failed"`
	// MaxInsns is the largest verified instruction count of a program,
	// MaxProgram that program, InsnLimit the verifier's limit there.
	MaxInsns   uint32 `json:"max_insns"`
	MaxProgram string `json:"max_program"`
	InsnLimit  uint32 `json:"insn_limit,omitempty"`
	// MaxStack is the largest stack depth of a program, VerifyMicros the
	// verifier's time summed over the programs.
	MaxStack     uint32 `json:"max_stack,omitempty"`
	VerifyMicros uint64 `json:"verify_us,omitempty"`
}

// reportRows lists every variant on every kernel the manifest has a record
// of, by variant then kernel release.
func reportRows(m *manifest.Manifest) []reportRow {
	var rows []reportRow
	for _, v := range m.Variants {
		releases := map[string]bool{}
		for _, p := range v.Programs {
			for r := range p.Verified {
				releases[r] = true
			}
		}
		for r := range v.Tested {
			releases[r] = true
		}
		for _, rel := range sortedKeys(releases) {
			row := reportRow{Variant: v.ID, Serves: v.Kernels, Kernel: rel, Verified: len(v.Programs) > 0}
			for _, p := range v.Programs {
				n, ok := p.Verified[rel]
				row.Verified = row.Verified && ok
				if n > row.MaxInsns {
					row.MaxInsns, row.MaxProgram = n, p.Name
				}
				if h, ok := p.Headroom[rel]; ok {
					row.InsnLimit = max(row.InsnLimit, h.InsnLimit)
					row.MaxStack = max(row.MaxStack, h.StackDepth)
					row.VerifyMicros += h.VerifyMicros
				}
			}
			if t, ok := v.Tested[rel]; ok {
				row.Tested, row.Passed, row.Failed = true, t.Passed, t.Failed
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func writeReportMarkdown(w io.Writer, rows []reportRow) {
	fmt.Fprintln(w, "| variant | serves | kernel | verified | scenarios | most instructions (of limit) | stack | verifier time |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		verified := "no"
		if r.Verified {
			verified = "yes"
		}
		tested := "not run"
		if r.Tested {
			tested = fmt.Sprintf("%d passed", r.Passed)
			if r.Failed > 0 {
				tested += fmt.Sprintf(", %d FAILED", r.Failed)
			}
		}
		insns := fmt.Sprintf("%d (%s)", r.MaxInsns, r.MaxProgram)
		if r.InsnLimit > 0 {
			insns = fmt.Sprintf("%d (%s, %.1f%% of %d)", r.MaxInsns, r.MaxProgram, 100*float64(r.MaxInsns)/float64(r.InsnLimit), r.InsnLimit)
		}
		stack, vt := "", ""
		if r.MaxStack > 0 {
			stack = fmt.Sprintf("%d B", r.MaxStack)
		}
		if r.VerifyMicros > 0 {
			vt = (time.Duration(r.VerifyMicros) * time.Microsecond).Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Variant, strings.Join(r.Serves, ", "), r.Kernel, verified, tested, insns, stack, vt)
	}
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("report", "report [-o markdown|json] [DIR]",
		"dpforge report out          # markdown: kernels each variant was verified and packet-tested on", stderr)
	format := fs.StringP("output", "o", "markdown", "output format: markdown or json")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if !slices.Contains([]string{"markdown", "json"}, *format) || fs.NArg() > 1 {
		fmt.Fprintf(stderr, "dpforge report: want -o markdown or json and at most one directory\n")
		fs.Usage()
		return exitUsage
	}
	dir := "out"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	m, err := manifest.Load(filepath.Join(dir, "manifest.json"))
	if err != nil {
		fmt.Fprintf(stderr, "dpforge report: %v (run dpforge build first)\n", err)
		return exitProblems
	}
	rows := reportRows(m)
	if *format == "json" {
		writeJSON(stdout, map[string]any{"rows": rows})
	} else {
		writeReportMarkdown(stdout, rows)
	}
	return exitOK
}
