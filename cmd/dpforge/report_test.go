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
	}}}
	var b bytes.Buffer
	writeReportMarkdown(&b, reportRows(m))
	want := `| variant | serves | kernel | verified | scenarios | most instructions (of limit) | stack | verifier time |
|---|---|---|---|---|---|---|---|
| aaa | lts | 5.10.0-46-amd64 | yes | 3 passed, 1 FAILED | 900000 (p1, 90.0% of 1000000) | 200 B | 2ms |
| aaa | lts | 6.18.0 | no | not run | 10 (p1) |  |  |
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
