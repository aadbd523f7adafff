// Package bpf holds dpforge's tc datapath: its C source and the Go
// description of everything the C exposes.
//
// Vocabulary:
//
//   - Program: one of the six sched_cls entry points in [Programs], each in
//     ELF section "tc". The cil_*_container programs attach to a pod's
//     host-side veth (ingress and egress), cil_*_netdev to the native
//     device and cil_*_overlay to the vxlan/geneve device.
//   - Map: one of the maps in [Maps], pinned by name. Every variant has the
//     same maps with the same key/value layouts and sizes, so one Go API
//     (the mirror types in maps.go) serves all variants and a node can swap
//     variants without recreating its pinned state. Only the type of
//     [MapEvents] depends on the variant: a ring buffer with HAVE_RINGBUF,
//     a perf event array without. The sizes are defaults: a node's
//     conntrack and NAT table sizes (Cilium's bpf-ct-global-*-max,
//     bpf-nat-global-max) are set at load time (bpf/loader.SetMapSizes).
//   - Load-time variable: a volatile const global in .rodata, listed in
//     [Variables]. It holds a per-node value (addresses, ifindexes, port
//     ranges) and is set with cilium/ebpf's VariableSpec.Set before loading.
//     Frozen .rodata makes it a constant for the verifier (Linux 5.2+).
//   - Macro: a compile-time feature switch in [Macros], written by the
//     generator into [VariantHeader]. A set of macros is a variant; each
//     variant is compiled once, ahead of time. Inconsistent sets fail to
//     compile with an #error naming the requirement.
//   - Reason: why a packet left a program the way it did ([Reason]). Values
//     from [DropBase] up are drops. Every packet is counted in [MapMetrics]
//     under its reason, direction and hook (the slot [MetricsKey.Index]);
//     every drop also produces a [DropEvent] on [MapEvents].
//
// The C side follows constraints that keep one object loadable from old to
// new kernels: everything is inlined (no bpf-to-bpf calls), there are no
// tail calls, loops are unrolled, and no CO-RE or kfuncs are used.
package bpf
