package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
)

// reportRow is one variant on one kernel release.
type reportRow struct {
	Variant string   `json:"variant"`
	Serves  []string `json:"serves"`
	Kernel  string   `json:"kernel"`
	// Verified: every program of the variant loaded there; Counted: some
	// program has a verified count there (a variant the traffic suite
	// attached on a kernel where dpforge did not verify it has none).
	Verified bool `json:"verified"`
	Counted  bool `json:"counted"`
	// Passed and Failed count the packet scenarios run there; Tested is
	// false when none ran.
	Tested bool `json:"tested"`
	Passed int  `json:"passed"`
	Failed int  `json:"failed"`
	// Traffic is the traffic suite's cases there (real packets through
	// the attached datapath), nil when none ran.
	Traffic *manifest.TrafficSummary `json:"traffic,omitempty"`
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
		for r := range v.Traffic {
			releases[r] = true
		}
		for _, rel := range sortedKeys(releases) {
			row := reportRow{Variant: v.ID, Serves: v.Kernels, Kernel: rel, Verified: len(v.Programs) > 0}
			for _, p := range v.Programs {
				n, ok := p.Verified[rel]
				row.Verified = row.Verified && ok
				row.Counted = row.Counted || ok
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
			if t, ok := v.Traffic[rel]; ok {
				row.Traffic = &t
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// writeReportMarkdown writes one row per variant and one column per kernel
// release: in each cell the scenarios passed of those run there ("-" when
// none ran), the most instructions a program of the variant needed, with
// its share of the verifier's limit, and the deepest stack.
func writeReportMarkdown(w io.Writer, rows []reportRow) {
	var kernels, variants []string
	cells := map[[2]string]reportRow{}
	serves := map[string][]string{}
	for _, r := range rows {
		if !slices.Contains(kernels, r.Kernel) {
			kernels = append(kernels, r.Kernel)
		}
		if !slices.Contains(variants, r.Variant) {
			variants = append(variants, r.Variant)
		}
		cells[[2]string{r.Variant, r.Kernel}] = r
		serves[r.Variant] = r.Serves
	}
	slices.SortFunc(kernels, compareReleases)
	fmt.Fprintf(w, "| variant | serves | %s |\n", strings.Join(kernels, " | "))
	fmt.Fprintf(w, "|---|---|%s\n", strings.Repeat("---|", len(kernels)))
	for _, v := range variants {
		fmt.Fprintf(w, "| %s | %s |", v, strings.Join(serves[v], ", "))
		for _, k := range kernels {
			r, ok := cells[[2]string{v, k}]
			fmt.Fprintf(w, " %s |", reportCell(r, ok))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nCell: scenarios passed/run (- none run) · traffic cases passed/run and how the loader attached (when the traffic suite ran there) · most verified instructions of a program (share of the limit) · deepest stack (not where only the traffic suite attached it); NOT LOADED when a program was rejected.")
}

func reportCell(r reportRow, ok bool) string {
	if !ok {
		return ""
	}
	if !r.Verified && (r.Counted || r.Traffic == nil) {
		return "NOT LOADED"
	}
	tested := "-"
	if r.Tested {
		tested = fmt.Sprintf("%d/%d", r.Passed, r.Passed+r.Failed)
	}
	insns := strconv.FormatUint(uint64(r.MaxInsns), 10)
	if r.InsnLimit > 0 {
		insns += fmt.Sprintf(" (%.1f%%)", 100*float64(r.MaxInsns)/float64(r.InsnLimit))
	}
	cell := tested
	if t := r.Traffic; t != nil {
		cell += fmt.Sprintf(" · traffic %d/%d", t.Passed, t.Passed+t.Failed)
		if t.Skipped > 0 {
			cell += fmt.Sprintf(" (%d skipped)", t.Skipped)
		}
		if t.Attach != "" {
			cell += " " + t.Attach
		}
	}
	if !r.Counted {
		return cell // attached by the traffic suite only
	}
	cell += " · " + insns
	if r.MaxStack > 0 {
		cell += fmt.Sprintf(" · %d B", r.MaxStack)
	}
	return cell
}

// compareReleases orders kernel releases by version, then by name.
func compareReleases(a, b string) int {
	va, ea := features.ParseVersion(a)
	vb, eb := features.ParseVersion(b)
	if ea == nil && eb == nil && va != vb {
		if va.AtLeast(vb) {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("report", "report [-o markdown|json] [--out DIR]  (or: report DIR)",
		"dpforge report --out out    # markdown: kernels each variant was verified and packet-tested on", stderr)
	format := fs.StringP("output", "o", "markdown", "output format: markdown or json")
	outDir := fs.String("out", "out", "build output directory to report on (also accepted as the argument)")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	if !slices.Contains([]string{"markdown", "json"}, *format) {
		return fs.usageError("want -o markdown or json, not %q", *format)
	}
	dir := *outDir
	switch {
	case fs.NArg() > 1:
		return fs.usageError("want at most one output directory, not %q", fs.Args())
	case fs.NArg() == 1:
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
