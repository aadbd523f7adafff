// Package loader is the one path from a datapath object to programs in the
// kernel. `dpforge verify`, the VM agent, the scenario engine, the
// benchmarks and the node-side loader all go through it:
//
//	object ─► LoadSpec / ParseSpec     parse the ELF into a CollectionSpec
//	       ─► SetValues                 set load-time variables (volatile const) from text
//	       ─► Load                      create maps (unpinned, or pinned and reused under
//	                                    Options.PinPath) and .rodata, then load the programs
//	                                    against them, several at once
//
// A spec is never changed by Load: it loads a copy restricted to
// Options.Programs (and the programs a program array refers to).
//
// The kernel verifies a program on one CPU, and verifying is almost all of
// a datapath's load time, so Load verifies up to GOMAXPROCS programs at
// once, the largest first; the maps, .rodata frozen with the load-time
// values, are created before and shared, so each program is verified as it
// would be in one collection.
//
// When the kernel rejects programs, Load finds out why: it loads each
// rejected program again with the verifier's branch log and returns a
// *LoadError whose Programs are *ProgramError values carrying the full log,
// naming the variant and the program (%+v prints the logs). Without the
// privileges to load programs, the error wraps ErrNotPermitted.
//
// The package imports cilium/ebpf and bpf/manifest only, so a node binary can
// use it without the generator.
package loader
