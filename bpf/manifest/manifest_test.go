package manifest

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sample returns a manifest with every slice deliberately out of order.
func sample() *Manifest {
	return &Manifest{
		Inputs: "3f2a",
		Toolchain: Toolchain{
			Compiler: "Debian clang version 19.1.7 (3~deb12u1)",
			Strip:    "llvm-strip, compatible with GNU strip",
			Flags:    []string{"-O2", "-g", "-Wall"},
		},
		Variants: []Variant{
			{
				ID: "v6", Defines: map[string]string{"DP_V6": "1", "DP_A": "(1 << 3)"}, CPU: "v3", Target: "bpfel",
				Kernels: []string{"k6.6", "k6.1"}, Object: "objects/v6.o", SHA256: "bb", Size: 20,
				Programs: []Program{
					{Name: "egress", Type: "SchedCLS", Section: "tc"},
					{Name: "ingress", Type: "SchedCLS", Section: "tc", Verified: map[string]uint32{"6.18.1": 30, "6.1.0": 31}},
				},
				Maps:      []Map{{Name: "stats", Type: "Array", KeySize: 4, ValueSize: 16, MaxEntries: 4}, {Name: "policy", Type: "Hash", KeySize: 8, ValueSize: 4, MaxEntries: 1024}},
				Variables: []string{"node_id", "mtu"},
			},
			{ID: "base", CPU: "v1", Target: "bpfel", Object: "objects/base.o", SHA256: "aa", Size: 10},
		},
		Nodes: []Node{
			{Name: "node-b", Kernel: "k6.6", Variant: "v6", Values: map[string]string{"node_id": "2"}},
			{Name: "node-a", Kernel: "k6.1", Variant: "base"},
		},
	}
}

func TestMarshalGolden(t *testing.T) {
	got, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample", "want.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("manifest.json mismatch (-want +got), run with -update to accept:\n%s", diff)
	}
	if !strings.HasSuffix(string(got), "}\n") {
		t.Errorf("manifest does not end in a newline")
	}

	// Deterministic: the same content in any order encodes to the same bytes.
	again, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(got) {
		t.Errorf("second encoding differs")
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	want := sample()
	data, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(Write(m)) mismatch (-want +got):\n%s", diff)
	}
	if v := got.Variant("v6"); v == nil || v.Object != "objects/v6.o" {
		t.Errorf("Variant(v6) = %+v", v)
	}
	if v := got.Variant("nope"); v != nil {
		t.Errorf("Variant(nope) = %+v, want nil", v)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		is             error
	}{
		{"future schema", `{"schema_version": 99}`, "schema version 99", ErrSchemaVersion},
		{"missing schema", `{}`, "schema version 0", ErrSchemaVersion},
		{"unknown key", `{"schema_version": 1, "variantz": []}`, `unknown field "variantz"`, nil},
		{"not json", `{`, "decoding manifest", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestCarryVerified(t *testing.T) {
	prev := sample()
	prev.Normalize()
	m := sample()
	m.Normalize()
	for i := range m.Variants {
		for j := range m.Variants[i].Programs {
			m.Variants[i].Programs[j].Verified = nil
		}
	}
	m.CarryVerified(prev)
	if diff := cmp.Diff(prev.Variant("v6").Programs, m.Variant("v6").Programs); diff != "" {
		t.Errorf("same object: counts not carried (-want +got):\n%s", diff)
	}

	// A rebuilt object (different hash) does not inherit counts.
	m2 := sample()
	m2.Normalize()
	v := m2.Variant("v6")
	v.SHA256 = "cc"
	for j := range v.Programs {
		v.Programs[j].Verified = nil
	}
	m2.CarryVerified(prev)
	for _, p := range m2.Variant("v6").Programs {
		if p.Verified != nil {
			t.Errorf("program %s of a changed object got counts %v", p.Name, p.Verified)
		}
	}
}

func TestMergeRecords(t *testing.T) {
	mk := func(sha string, tested, traffic int) *Manifest {
		return &Manifest{Variants: []Variant{{ID: "v", SHA256: sha,
			Programs: []Program{{Name: "p", Verified: map[string]uint32{"k1": uint32(tested)}}},
			Tested:   map[string]TestSummary{"k1": {Passed: tested}},
			Traffic:  map[string]TrafficSummary{"k1": {Passed: traffic, Attach: "tc"}},
		}}}
	}
	// A build carries what the previous manifest knew, without replacing.
	m := &Manifest{Variants: []Variant{{ID: "v", SHA256: "a", Programs: []Program{{Name: "p"}}}}}
	m.CarryVerified(mk("a", 3, 4))
	if got := m.Variants[0]; got.Traffic["k1"].Passed != 4 || got.Tested["k1"].Passed != 3 || got.Programs[0].Verified["k1"] != 3 {
		t.Errorf("CarryVerified: %+v", got)
	}
	m.CarryVerified(mk("a", 9, 9))
	if got := m.Variants[0]; got.Traffic["k1"].Passed != 4 {
		t.Errorf("CarryVerified replaced a record: %+v", got.Traffic)
	}
	// A run's results replace the older ones on disk.
	m.UpdateRecords(mk("a", 9, 8))
	if got := m.Variants[0]; got.Traffic["k1"].Passed != 8 || got.Tested["k1"].Passed != 9 || got.Programs[0].Verified["k1"] != 9 {
		t.Errorf("UpdateRecords: %+v", got)
	}
	// Another object: nothing is taken.
	m.UpdateRecords(mk("b", 1, 1))
	if got := m.Variants[0]; got.Traffic["k1"].Passed != 8 {
		t.Errorf("UpdateRecords took the records of another object: %+v", got.Traffic)
	}
}

func TestParseVerifierStatsStack(t *testing.T) {
	const log = "stack depth 240+104+280+16\nprocessed 10 insns (limit 1000000)\n"
	for _, tc := range []struct {
		name  string
		calls [][]int
		want  uint32
	}{
		// main calls 1 and 2, 2 calls 3: 240+280+16.
		{"call graph", [][]int{{1, 2}, nil, {3}, nil}, 536},
		{"no call graph", nil, 640},
		{"graph of other functions", [][]int{{1}, nil}, 640},
		{"cycle", [][]int{{1}, {0}, nil, nil}, 640},
	} {
		if got := ParseVerifierStats(log, tc.calls).StackDepth; got != tc.want {
			t.Errorf("%s: stack depth %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := ParseVerifierStats("stack depth max 96\nstack depth 8", [][]int{nil}).StackDepth; got != 96 {
		t.Errorf("7.x \"max\" line: stack depth %d, want 96", got)
	}
}
