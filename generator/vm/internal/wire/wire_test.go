package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func encode(t testing.TB, kind string, v any) string {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, kind, v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func decodeAll(t *testing.T, console string) (recs []Record, other []string, errs []error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(console))
	d.Other = func(l string) { other = append(other, l) }
	for {
		r, err := d.Next()
		if err == io.EOF {
			return recs, other, errs
		}
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, other, errs
			}
			continue
		}
		recs = append(recs, r)
	}
}

// A console as the serial port delivers it: CRLF line ends (the tty's
// onlcr), kernel messages before, between and inside records.
func TestDecodeConsole(t *testing.T) {
	hello := Hello{Release: "6.1.0-56-amd64", BTF: true}
	obj := Object{Name: "v1", Programs: []Program{
		{Name: "ok", Instructions: 42, Source: CountFromInfo},
		{Name: "bad", Error: "permission denied", Log: []string{"0: (b7) r0 = 0", strings.Repeat("x", 500)}},
	}}
	objText := encode(t, KindObject, obj)
	// A kernel message between two base64 lines of the record.
	lines := strings.SplitAfter(objText, "\n")
	objText = strings.Join(lines[:3], "") + "[    2.5] random: crng init done\n" + strings.Join(lines[3:], "")

	console := "SeaBIOS\nBooting from ROM...\n" +
		encode(t, KindHello, hello) + "dpforge-vm: loading v1\n" + objText + encode(t, KindExit, Exit{})
	console = strings.ReplaceAll(console, "\n", "\r\n")

	recs, other, errs := decodeAll(t, console)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	if diff := cmp.Diff([]string{KindHello, KindObject, KindExit}, kinds); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
	var gotHello Hello
	var gotObj Object
	json.Unmarshal(recs[0].JSON, &gotHello)
	json.Unmarshal(recs[1].JSON, &gotObj)
	if diff := cmp.Diff(hello, gotHello); diff != "" {
		t.Errorf("hello (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(obj, gotObj); diff != "" {
		t.Errorf("object (-want +got):\n%s", diff)
	}
	for _, want := range []string{"Booting from ROM...", "dpforge-vm: loading v1", "[    2.5] random: crng init done"} {
		found := false
		for _, o := range other {
			found = found || o == want
		}
		if !found {
			t.Errorf("line %q not passed to Other: %q", want, other)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encode(t, KindHello, Hello{Release: "x"})
	lines := strings.Split(good, "\n")
	// Flip one base64 character of the body.
	body := []byte(lines[2])
	if body[5] == 'A' {
		body[5] = 'B'
	} else {
		body[5] = 'A'
	}
	lines[2] = string(body)
	corrupt := strings.Join(lines, "\n")

	recs, _, errs := decodeAll(t, corrupt+encode(t, KindExit, Exit{}))
	var ce *CorruptError
	if len(errs) != 1 || !errors.As(errs[0], &ce) || ce.Kind != KindHello {
		t.Fatalf("errors %v, want one CorruptError for hello", errs)
	}
	if len(recs) != 1 || recs[0].Kind != KindExit {
		t.Errorf("records after the corrupt one: %v", recs)
	}
}

func TestDecodeTruncated(t *testing.T) {
	good := encode(t, KindObject, Object{Name: "v"})
	cut := good[:len(good)/2]
	_, _, errs := decodeAll(t, cut)
	if len(errs) != 1 || !errors.Is(errs[0], io.ErrUnexpectedEOF) {
		t.Fatalf("errors %v, want io.ErrUnexpectedEOF", errs)
	}
}

func TestDecodeMismatchedEnd(t *testing.T) {
	good := encode(t, KindObject, Object{Name: "v"})
	bad := strings.Replace(good, "end object", "end exit", 1)
	_, _, errs := decodeAll(t, bad)
	var ce *CorruptError
	if len(errs) != 1 || !errors.As(errs[0], &ce) {
		t.Fatalf("errors %v, want a CorruptError", errs)
	}
}

// FuzzDecoder: no console output, however mangled, may panic the decoder
// or make it loop.
func FuzzDecoder(f *testing.F) {
	f.Add(encode(f, KindHello, Hello{Release: "5.10.0-46-amd64"}))
	f.Add("=== dpforge-vm begin object ===\nAAAA\n=== dpforge-vm end object sha256=00 ===\n")
	f.Add("=== dpforge-vm begin  ===\n=== dpforge-vm end ===\n")
	f.Fuzz(func(t *testing.T, console string) {
		d := NewDecoder(strings.NewReader(console))
		for i := 0; i <= strings.Count(console, "\n")+1; i++ {
			rec, err := d.Next()
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			if err == nil && !json.Valid(rec.JSON) {
				t.Fatalf("record %q is not JSON", rec.Kind)
			}
		}
		t.Fatal("decoder did not reach the end of its input")
	})
}

// The statistics as 5.10, 6.18 and 7.3 print them (from real logs).
func TestParseStats(t *testing.T) {
	for _, tc := range []struct {
		log  string
		want Program
	}{
		{"stack depth 200+16\nprocessed 9504 insns (limit 1000000) max_states_per_insn 4 total_states 35 peak_states 32 mark_read 0\n",
			Program{Instructions: 9504, Source: CountFromLog, InsnLimit: 1000000, StackDepth: 216}},
		{"verification time 2040 usec\nstack depth 112\nprocessed 590 insns (limit 1000000) max_states_per_insn 4 total_states 35 peak_states 32 mark_read 0\n",
			Program{Instructions: 590, Source: CountFromLog, InsnLimit: 1000000, StackDepth: 112, VerifyMicros: 2040}},
		{"verification time 9765 usec\nstack depth max 16\nsubprog 0 (accept) main insns_self 12 insns_total 12 stack 8\nprocessed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n",
			Program{Instructions: 12, Source: CountFromLog, InsnLimit: 1000000, StackDepth: 16, VerifyMicros: 9765}},
		{"0: (b7) r0 = 0\n", Program{}},
	} {
		if got := ParseStats(tc.log, nil); !cmp.Equal(got, tc.want) {
			t.Errorf("ParseStats(%q) = %+v, want %+v", tc.log, got, tc.want)
		}
	}
}
