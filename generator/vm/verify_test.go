package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// fakeVM runs Verify with a stand-in for qemu that prints console and then
// runs tail (shell), so that everything between qemu and the Report is
// tested without a machine.
func fakeVM(t *testing.T, console, tail string, objects []Object, timeout time.Duration) (*Report, error) {
	t.Helper()
	dir := t.TempDir()
	consoleFile := filepath.Join(dir, "console")
	os.WriteFile(consoleFile, []byte(console), 0o644)
	qemu := filepath.Join(dir, "qemu")
	os.WriteFile(qemu, []byte(fmt.Sprintf("#!/bin/sh\ncat %s\n%s\n", consoleFile, tail)), 0o755)
	agent := filepath.Join(dir, "agent")
	os.WriteFile(agent, []byte("not run"), 0o755)
	for i := range objects {
		objects[i].Path = filepath.Join(dir, objects[i].Name+".o")
		os.WriteFile(objects[i].Path, []byte("obj"), 0o644)
	}
	k := &Kernel{Release: "5.10.0-46-amd64", Vmlinux: filepath.Join(dir, "vmlinux")}
	return Verify(context.Background(), k, objects, Options{QEMU: qemu, Agent: agent, WorkDir: dir, Timeout: timeout})
}

func record(t *testing.T, kind string, v any) string {
	t.Helper()
	var b bytes.Buffer
	if err := wire.Encode(&b, kind, v); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(b.String(), "\n", "\r\n")
}

var hello = wire.Hello{Release: "5.10.0-46-amd64", Version: "Linux version 5.10.0-46-amd64", BTF: true}

func TestVerifyReport(t *testing.T) {
	console := "SeaBIOS\r\n" + record(t, wire.KindHello, hello) +
		"dpforge-vm: loading a\r\n" +
		record(t, wire.KindObject, wire.Object{Name: "a", Millis: 120, Programs: []wire.Program{
			{Name: "p1", Instructions: 1234, Source: wire.CountFromLog},
			{Name: "p2", Error: "load program: permission denied", Log: []string{"0: (85) call bpf_loop#181", "invalid func unknown#181"}},
		}}) +
		"dpforge-vm: loading b\r\n" +
		record(t, wire.KindObject, wire.Object{Name: "b", Error: `object has no program "x"`}) +
		record(t, wire.KindExit, wire.Exit{})
	report, err := fakeVM(t, console, "", []Object{{Name: "a"}, {Name: "b"}}, 0)
	if report == nil {
		t.Fatalf("no report: %+v", err)
	}
	want := &Report{
		Release: "5.10.0-46-amd64", KernelVersion: "Linux version 5.10.0-46-amd64", BTF: true,
		Objects: []ObjectReport{
			{Name: "a", Duration: 120 * time.Millisecond, Programs: []ProgramReport{
				{Name: "p1", Instructions: 1234, Known: true, Source: "log"},
				{Name: "p2"},
			}},
			{Name: "b"},
		},
	}
	ignore := cmp.Options{cmpopts.IgnoreFields(Report{}, "Kernel", "Boot", "Total"), cmpopts.IgnoreUnexported(Report{})}
	errsIgnored := cmpopts.IgnoreFields(ProgramReport{}, "Err")
	objErrIgnored := cmpopts.IgnoreFields(ObjectReport{}, "Err")
	if diff := cmp.Diff(want, report, ignore, errsIgnored, objErrIgnored); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	errs := errlist.Flatten(err)
	if len(errs) != 2 {
		t.Fatalf("errors %v, want the rejection of a/p2 and object b", errs)
	}
	var ve *loader.ProgramError
	if !errors.As(errs[0], &ve) || ve.Variant != "a" || ve.Program != "p2" || ve.Release != "5.10.0-46-amd64" {
		t.Errorf("first error %#v", errs[0])
	}
	if got := ve.Error(); !strings.Contains(got, "invalid func unknown#181") {
		t.Errorf("summary %q does not give the verifier's reason", got)
	}
	if full := fmt.Sprintf("%+v", err); !strings.Contains(full, "0: (85) call bpf_loop#181") {
		t.Errorf("%%+v does not print the log:\n%s", full)
	}
	var oe *ObjectError
	if !errors.As(errs[1], &oe) || oe.Object != "b" {
		t.Errorf("second error %#v", errs[1])
	}
	if report.Objects[0].Programs[1].Err != errs[0] || report.Objects[1].Err != errs[1] {
		t.Error("the report does not carry the same errors")
	}
}

// The agent died in the middle of object b: a's result is kept, the error
// names b and carries the console.
func TestVerifyAgentDied(t *testing.T) {
	console := record(t, wire.KindHello, hello) +
		"dpforge-vm: loading a\r\n" + record(t, wire.KindObject, wire.Object{Name: "a", Programs: []wire.Program{{Name: "p", Instructions: 7, Source: "info"}}}) +
		"dpforge-vm: loading b\r\n[    3.1] Kernel panic - not syncing: Attempted to kill init!\r\n"
	report, err := fakeVM(t, console, "", []Object{{Name: "a"}, {Name: "b"}}, 0)
	if report == nil || len(report.Objects) != 1 || !report.Objects[0].Programs[0].Known {
		t.Fatalf("report %+v", report)
	}
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a RunError", err)
	}
	if !strings.Contains(re.Error(), `while loading object "b"`) {
		t.Errorf("error %q does not name the object", re)
	}
	if full := fmt.Sprintf("%+v", err); !strings.Contains(full, "Attempted to kill init") {
		t.Errorf("%%+v does not show the console:\n%s", full)
	}
}

func TestVerifyTimeout(t *testing.T) {
	console := record(t, wire.KindHello, hello) + "dpforge-vm: loading a\r\n"
	start := time.Now()
	_, err := fakeVM(t, console, "sleep 60", []Object{{Name: "a"}}, time.Second)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Verify returned after %v", d)
	}
}

// A machine that never starts the agent (qemu failed) gives no report.
func TestVerifyNoBoot(t *testing.T) {
	report, err := fakeVM(t, "qemu: could not load kernel\r\n", "exit 1", []Object{{Name: "a"}}, 0)
	if report != nil || err == nil || !strings.Contains(err.Error(), "never started") {
		t.Fatalf("report %v, error %v", report, err)
	}
}

func TestVerifyDuplicateNames(t *testing.T) {
	_, err := Verify(context.Background(), &Kernel{Release: "x"}, []Object{{Name: "a"}, {Name: "a"}}, Options{Agent: "/nonexistent"})
	if err == nil || !strings.Contains(err.Error(), "unique") {
		t.Fatalf("error %v", err)
	}
}

func TestRecord(t *testing.T) {
	m := &manifest.Manifest{Variants: []manifest.Variant{
		{ID: "a", Programs: []manifest.Program{{Name: "p1"}, {Name: "p2", Verified: map[string]uint32{"6.18": 5}}}},
	}}
	r := &Report{Release: "5.10.0-46-amd64", Objects: []ObjectReport{
		{Name: "a", Programs: []ProgramReport{{Name: "p1", Instructions: 10, Known: true}, {Name: "p2"}}},
		{Name: "not-a-variant", Programs: []ProgramReport{{Name: "p1", Instructions: 1, Known: true}}},
	}}
	if n := r.Record(m); n != 1 {
		t.Errorf("recorded %d counts, want 1", n)
	}
	want := []manifest.Program{
		{Name: "p1", Verified: map[string]uint32{"5.10.0-46-amd64": 10}},
		{Name: "p2", Verified: map[string]uint32{"6.18": 5}},
	}
	if diff := cmp.Diff(want, m.Variants[0].Programs); diff != "" {
		t.Errorf("programs (-want +got):\n%s", diff)
	}
}

func TestManifestObjects(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "objects"), 0o755)
	os.WriteFile(filepath.Join(dir, "objects", "a.o"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(dir, "objects", "b.o"), []byte("B"), 0o644)
	m := &manifest.Manifest{Variants: []manifest.Variant{
		{ID: "a", Object: "objects/a.o", SHA256: cache.SHA256Hex([]byte("A")), Programs: []manifest.Program{{Name: "p"}, {Name: "q"}}},
		{ID: "b", Object: "objects/b.o", SHA256: cache.SHA256Hex([]byte("stale"))},
	}}
	got, err := ManifestObjects(dir, m, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := []Object{{Name: "a", Path: filepath.Join(dir, "objects", "a.o"), Programs: []string{"p", "q"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ManifestObjects(dir, m); err == nil || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("stale object: %v", err)
	}
	if _, err := ManifestObjects(dir, m, "c"); err == nil {
		t.Error("unknown variant accepted")
	}
}
