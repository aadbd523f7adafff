package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var ran []string
	cmds := []Command{
		{Name: "go", Summary: "run", Run: func(args []string, _, _ io.Writer) int {
			ran = append(ran, strings.Join(args, " "))
			return ExitProblems
		}},
		{Name: "longer", Summary: "other"},
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stderr
	}{
		{nil, ExitUsage, "usage: prog COMMAND [flags]\n\ncommands:\n  go      run\n  longer  other\n"},
		{[]string{"help"}, ExitOK, "Run prog COMMAND --help"},
		{[]string{"nope"}, ExitUsage, "prog: unknown command \"nope\"\n\nusage:"},
		{[]string{"go", "a", "b"}, ExitProblems, ""},
	} {
		var stderr bytes.Buffer
		if code := Main("prog", cmds, tc.args, io.Discard, &stderr); code != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.args, code, tc.code)
		}
		if !strings.Contains(stderr.String(), tc.out) {
			t.Errorf("%q: stderr %q lacks %q", tc.args, stderr.String(), tc.out)
		}
	}
	if len(ran) != 1 || ran[0] != "a b" {
		t.Errorf("subcommand ran with %q, want once with \"a b\"", ran)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	f := NewFlags("prog", "sub", "sub [--n N]", "prog sub --n 3", &stderr)
	n := f.Int("n", 0, "a number")
	if code, ok := f.ParseArgs([]string{"--n", "3"}); !ok || code != ExitOK || *n != 3 {
		t.Fatalf("ParseArgs = %d, %v, n %d; want 0, true, 3", code, ok, *n)
	}
	if code, ok := f.ParseArgs([]string{"--nope"}); ok || code != ExitUsage {
		t.Fatalf("unknown flag: ParseArgs = %d, %v; want %d, false", code, ok, ExitUsage)
	}
	want := "prog sub: unknown flag: --nope\nusage: prog sub [--n N]\nRun prog sub --help for the flags and an example.\n"
	if !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr %q, want it to end with %q", stderr.String(), want)
	}
	stderr.Reset()
	if code, ok := f.ParseArgs([]string{"--help"}); ok || code != ExitOK {
		t.Fatalf("--help: ParseArgs = %d, %v; want 0, false", code, ok)
	}
	if !strings.Contains(stderr.String(), "example:\n  prog sub --n 3\n") {
		t.Errorf("help %q lacks the example", stderr.String())
	}
}
