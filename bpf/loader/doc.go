// Package loader is the one path from a datapath object to programs in the
// kernel. `dpforge verify`, the VM agent, the scenario engine, the
// benchmarks and the node-side loader all go through it:
//
//	object ─► LoadSpec / ParseSpec     parse the ELF into a CollectionSpec
//	       ─► SetValues                 set load-time variables (volatile const) from text
//	       ─► Load                      create maps (unpinned, or pinned and reused under
//	                                    Options.PinPath), load the programs
//
// A spec is never changed by Load: it loads a copy restricted to
// Options.Programs (and the programs a program array refers to).
//
// When the kernel rejects the collection, Load finds out why: it loads each
// program on its own with the verifier's branch log and returns a
// *LoadError whose Programs are *ProgramError values carrying the full log,
// naming the variant and the program (%+v prints the logs). Without the
// privileges to load programs, the error wraps ErrNotPermitted.
//
// The package imports cilium/ebpf and bpf/manifest only, so a node binary can
// use it without the generator.
package loader
