package bpf

import (
	"testing"

	"golang.org/x/sys/unix"
)

// monotonicNow reads CLOCK_MONOTONIC, the clock behind bpf_ktime_get_ns.
// Tests that seed time fields (conntrack last_seen, EDT t_last) set them
// relative to it, so the outcome holds at any uptime: a value "61 s ago"
// may wrap below zero on a machine that booted a minute ago, and the
// datapath's unsigned now - last_seen then still reads 61 s.
func monotonicNow(t testing.TB) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatalf("reading CLOCK_MONOTONIC: %v", err)
	}
	return uint64(ts.Nano())
}
