// Package bindings writes the Go side of a build: one bpf2go package per
// variant (v_<id>, embedding the object), the registry package that maps
// variant ids to them, and the go.mod of the module that holds both.
//
// It also defines a variant's API, the program, map and variable names a
// loader relies on (Inspect reads it from an object), and checks that every
// variant of a build has the same one, with the same Go types (Check): one
// Go API serves them all. The registry holds that API once (Types): the
// typed DatapathObjects a loaded collection of any variant is assigned to.
package bindings
