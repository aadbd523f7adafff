// Package probe asks the running kernel which capabilities of the feature
// model it has, with cilium/ebpf's feature probes. It is the one place that
// touches the kernel for this; `dpforge probe` and the loader use it.
//
// A probe answers yes, no, or inconclusive; inconclusive capabilities are
// left out, so the model falls back to the documented minimum for them.
package probe

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	ebpffeatures "github.com/cilium/ebpf/features"

	"github.com/dpforge/dpforge/features"
)

// Result is what a probe found.
type Result struct {
	Release      string
	Version      features.Version
	Capabilities map[features.Capability]bool
	// Inconclusive maps capabilities the probe could not decide to why.
	Inconclusive map[features.Capability]string
}

// check maps a probe error to a verdict: nil is yes, ErrNotSupported is no,
// anything else is inconclusive.
func check(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return false, nil
	}
	return false, err
}

// Run probes the running kernel.
func Run() (*Result, error) {
	rel, err := KernelRelease()
	if err != nil {
		return nil, err
	}
	v, err := features.ParseVersion(rel)
	if err != nil {
		return nil, fmt.Errorf("parsing kernel release: %w", err)
	}
	r := &Result{Release: rel, Version: v, Capabilities: map[features.Capability]bool{}, Inconclusive: map[features.Capability]string{}}
	// Parsing the kernel's BTF is most of a probe's time: once, not per enum.
	kernel := btf.NewCache()
	probes := map[features.Capability]func() error{
		features.CapSchedCLS:       func() error { return ebpffeatures.HaveProgramType(ebpf.SchedCLS) },
		features.CapLRUHash:        func() error { return ebpffeatures.HaveMapType(ebpf.LRUHash) },
		features.CapLPMTrie:        func() error { return ebpffeatures.HaveMapType(ebpf.LPMTrie) },
		features.CapRingBuf:        func() error { return ebpffeatures.HaveMapType(ebpf.RingBuf) },
		features.CapFibLookup:      helper(asm.FnFibLookup),
		features.CapRedirectNeigh:  helper(asm.FnRedirectNeigh),
		features.CapRedirectPeer:   helper(asm.FnRedirectPeer),
		features.CapSkbAdjustRoom:  helper(asm.FnSkbAdjustRoom),
		features.CapSkbSetTstamp:   helper(asm.FnSkbSetTstamp),
		features.CapISAv2:          ebpffeatures.HaveV2ISA,
		features.CapISAv3:          ebpffeatures.HaveV3ISA,
		features.CapLargeInsnLimit: ebpffeatures.HaveLargeInstructions,
		features.CapBoundedLoops:   ebpffeatures.HaveBoundedLoops,
		features.CapRODataMap:      func() error { return ebpffeatures.HaveMapFlag(ebpffeatures.BPF_F_RDONLY_PROG) },
		features.CapTCX:            func() error { return enumValue(kernel, "bpf_attach_type", "BPF_TCX_INGRESS") },
		features.CapNetkit:         func() error { return enumValue(kernel, "bpf_attach_type", "BPF_NETKIT_PRIMARY") },
	}
	for c, fn := range probes {
		ok, err := check(fn())
		if err != nil {
			r.Inconclusive[c] = err.Error()
			continue
		}
		r.Capabilities[c] = ok
	}
	// EDT has no program-level probe: the writable skb->tstamp arrived with
	// the v3 ISA's kernel (5.1); take it from there when that was decided.
	if ok, found := r.Capabilities[features.CapISAv3]; found {
		r.Capabilities[features.CapEDT] = ok
	}
	return r, nil
}

func helper(fn asm.BuiltinFunc) func() error {
	return func() error { return ebpffeatures.HaveProgramHelper(ebpf.SchedCLS, fn) }
}

// enumValue probes kernel BTF for an enum value: attach types appear in
// enum bpf_attach_type from the release that supports them.
func enumValue(kernel *btf.Cache, enum, value string) error {
	spec, err := kernel.Kernel()
	if err != nil {
		return err
	}
	var e *btf.Enum
	if err := spec.TypeByName(enum, &e); err != nil {
		return err
	}
	for _, v := range e.Values {
		if v.Name == value {
			return nil
		}
	}
	return fmt.Errorf("%s has no %s: %w", enum, value, ebpf.ErrNotSupported)
}

// Arch is the running machine's architecture, as a probe file records it.
func Arch() string { return runtime.GOARCH }

// KernelRelease returns the running kernel's release, as uname -r prints it.
func KernelRelease() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", fmt.Errorf("reading kernel release: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
