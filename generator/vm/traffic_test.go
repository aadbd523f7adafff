package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// fakeTraffic runs a traffic request's console through run and
// trafficReport, with a stand-in for qemu.
func fakeTraffic(t *testing.T, console string) (*TrafficReport, string, error) {
	t.Helper()
	dir := t.TempDir()
	consoleFile := filepath.Join(dir, "console")
	os.WriteFile(consoleFile, []byte(console), 0o644)
	qemu := filepath.Join(dir, "qemu")
	os.WriteFile(qemu, []byte(fmt.Sprintf("#!/bin/sh\ncat %s\n", consoleFile)), 0o755)
	k := &Kernel{Release: "6.1.0-57-amd64", Vmlinux: filepath.Join(dir, "vmlinux")}
	var out bytes.Buffer
	rep, err := trafficReport(run(context.Background(), k, filepath.Join(dir, "initrd"), nil,
		Options{QEMU: qemu, Timeout: 30 * time.Second, SuiteOutput: &out, CPUs: 1, MemoryMiB: 64}))
	return rep, out.String(), err
}

func TestTrafficReport(t *testing.T) {
	h := hello
	h.Release, h.Modules = "6.1.0-57-amd64", []string{"veth", "geneve"}
	cases := []wire.TrafficCase{
		{Test: "TestTrafficPodToPod/tunnel-geneve/across-nodes", Node: "geneve-worker", Variant: "v1", Attach: "tc", Result: "pass", Millis: 1200},
		{Test: "TestTrafficBandwidth", Node: "native-full", Variant: "v2", Attach: "tc", Result: "skip", Reason: "no sch_fq"},
		{Test: "TestTrafficServices/native-dsr/clusterip-tcp", Node: "native-dsr", Variant: "v2", Result: "pass"},
		{Test: "TestReplaceUnderLoad/tcx", Node: "native-dsr", Variant: "v2", Attach: "tcx", Result: "pass"},
	}
	console := record(t, wire.KindHello, h) +
		wire.TestPrefix + "=== RUN   TestTrafficPodToPod\r\n" +
		"[   12.5] random kernel message\r\n" +
		record(t, wire.KindTraffic, wire.Traffic{Cases: cases, ExitCode: 0, Millis: 9000}) +
		record(t, wire.KindExit, wire.Exit{})
	rep, out, err := fakeTraffic(t, console)
	if err != nil {
		t.Fatalf("%+v", err)
	}
	if out != "=== RUN   TestTrafficPodToPod\n" {
		t.Errorf("suite output %q, want the prefixed line without its prefix", out)
	}
	if diff := cmp.Diff([]string{"veth", "geneve"}, rep.Modules); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	if p, f, s := rep.Counts(); p != 3 || f != 0 || s != 1 {
		t.Errorf("counts %d/%d/%d, want 3 passed, 0 failed, 1 skipped", p, f, s)
	}
	if rep.Cases[0].Duration != 1200*time.Millisecond || rep.Cases[0].Attach != "tc" {
		t.Errorf("case 0 = %+v", rep.Cases[0])
	}

	m := &manifest.Manifest{Variants: []manifest.Variant{{ID: "v1"}, {ID: "v2"}}}
	if n := rep.Record(m); n != 4 {
		t.Errorf("Record stored %d cases, want 4", n)
	}
	want := map[string]manifest.TrafficSummary{"6.1.0-57-amd64": {Passed: 2, Skipped: 1, Attach: "tc,tcx"}}
	if diff := cmp.Diff(want, m.Variants[1].Traffic); diff != "" {
		t.Errorf("v2's traffic (-want +got):\n%s", diff)
	}
}

func TestTrafficFailed(t *testing.T) {
	h := hello
	h.Release = "6.1.0-57-amd64"
	tail := []string{"--- FAIL: TestTrafficPodToPod/tunnel-geneve/across-nodes (3.00s)", "FAIL"}
	console := record(t, wire.KindHello, h) +
		record(t, wire.KindTraffic, wire.Traffic{ExitCode: 1, Tail: tail, Cases: []wire.TrafficCase{
			{Test: "TestTrafficPodToPod/tunnel-geneve/across-nodes", Variant: "v1", Result: "fail", Reason: "udp: no echo"}}}) +
		record(t, wire.KindExit, wire.Exit{})
	rep, _, err := fakeTraffic(t, console)
	var te *TrafficError
	if !errors.As(err, &te) || te.Failed != 1 || te.ExitCode != 1 {
		t.Fatalf("error %v, want a TrafficError with 1 failed case and exit status 1", err)
	}
	if got := fmt.Sprintf("%+v", te); !bytes.Contains([]byte(got), []byte("--- FAIL")) {
		t.Errorf("%%+v of the error lacks the suite's tail: %s", got)
	}
	if rep == nil || len(rep.Cases) != 1 {
		t.Fatalf("report %+v, want the failed case", rep)
	}

	// A suite that never reported is an error even when the machine
	// exited cleanly.
	_, _, err = fakeTraffic(t, record(t, wire.KindHello, h)+record(t, wire.KindExit, wire.Exit{}))
	if err == nil {
		t.Error("no traffic record: no error")
	}
}

func TestPruneTraffic(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration) string {
		dir := filepath.Join(root, name)
		os.MkdirAll(filepath.Join(dir, "fixtures"), 0o755)
		os.WriteFile(filepath.Join(dir, "dpload.test"), []byte("x"), 0o755)
		os.Chtimes(dir, now.Add(-age), now.Add(-age))
		return dir
	}
	old, recent, current := mk("old", 48*time.Hour), mk("recent", time.Hour), mk("current", 72*time.Hour)
	busy := mk("busy", 72*time.Hour)
	unlock, err := cache.Lock(context.Background(), filepath.Join(busy, "fixtures.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	pruneTraffic(root, current, now)
	for dir, want := range map[string]bool{old: false, recent: true, current: true, busy: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
}
