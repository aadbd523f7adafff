package vm

import (
	"context"
	"debug/elf"
	"os/exec"
	"strings"
	"testing"
)

// The agent must not link a cilium/ebpf package that makes a BPF call in
// init(): it would run before the agent mounts /proc and poison
// cilium/ebpf's cached BPF token lookup (see the agent's package comment).
// cilium/ebpf/features is allowed: its init() functions (features/prog.go
// and map.go in v0.22) only name the probes and build closures; the probes
// run when called, after the agent has mounted /proc.
func TestAgentInitOrder(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", AgentPackage).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "github.com/cilium/ebpf/rlimit":
			t.Errorf("the agent links %s, whose init() calls BPF", pkg)
		}
	}
}

// The agent builds static, and the second request is served from the cache.
func TestAgentBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent with go build")
	}
	ctx := context.Background()
	cache := t.TempDir()
	bin, err := agentBinary(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("agent machine %v", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("agent is dynamically linked (%v): the initramfs has no libc", p.Type)
		}
	}
	again, err := agentBinary(ctx, cache)
	if err != nil || again != bin {
		t.Errorf("second build: %q, %v; want the cached %q", again, err, bin)
	}
	if !agentEntryValid(bin) {
		t.Error("cache entry not valid")
	}
}
