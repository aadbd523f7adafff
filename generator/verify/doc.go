// Package verify loads every variant of a manifest into the running kernel's
// verifier and records, per program and kernel release, how many
// instructions the verifier processed. Maps are created unpinned and
// everything is closed again: verifying never changes the machine.
//
// Objects are loaded through bpf/loader, as a node loads them. A program the
// kernel rejects is a *loader.ProgramError that carries the full verifier
// log (%+v prints it); without the privileges to load programs, Verify fails
// with an error wrapping loader.ErrNotPermitted. Verification under other
// kernels, booted in qemu, is generator/vm.
package verify
