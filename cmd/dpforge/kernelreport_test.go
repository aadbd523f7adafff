package main

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf/manifest"
)

func TestReportMarkdown(t *testing.T) {
	m := &manifest.Manifest{Variants: []manifest.Variant{{
		ID: "aaa", Kernels: []string{"lts"},
		Programs: []manifest.Program{
			{Name: "p1", Verified: map[string]uint32{"5.10.0-46-amd64": 900000, "6.18.0": 10},
				Headroom: map[string]manifest.Headroom{"5.10.0-46-amd64": {Instructions: 900000, InsnLimit: 1000000, StackDepth: 200, VerifyMicros: 1500}}},
			{Name: "p2", Verified: map[string]uint32{"5.10.0-46-amd64": 5}},
		},
		Tested: map[string]manifest.TestSummary{"5.10.0-46-amd64": {Passed: 3, Failed: 1}},
		Traffic: map[string]manifest.TrafficSummary{"5.10.0-46-amd64": {Passed: 7, Failed: 1, Skipped: 2, Attach: "tc"},
			"7.3.4": {Passed: 8, Attach: "tcx"}}, // attached by the traffic suite only
	}}}
	var b bytes.Buffer
	writeReportMarkdown(&b, reportRows(m))
	want := `| variant | serves | 5.10.0-46-amd64 | 6.18.0 | 7.3.4 |
|---|---|---|---|---|
| aaa | lts | 3/4 · traffic 7/8 (2 skipped) tc · 900000 (90.0%) · 200 B | NOT LOADED | - · traffic 8/8 tcx |

Cell: scenarios passed/run (- none run) · traffic cases passed/run and how the loader attached (when the traffic suite ran there) · most verified instructions of a program (share of the limit) · deepest stack (not where only the traffic suite attached it); NOT LOADED when a program was rejected.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if got := (manifest.Headroom{Instructions: 900000, InsnLimit: 1000000, StackDepth: 420}).Tight(); len(got) != 2 {
		t.Errorf("Tight = %v, want instructions and stack", got)
	}
	if got := (manifest.Headroom{Instructions: 800000, InsnLimit: 1000000, StackDepth: 409}).Tight(); len(got) != 0 {
		t.Errorf("Tight = %v, want nothing at or below 80%%", got)
	}
}
