// Package node is the node side of dpforge: what dpload does on a machine.
// It picks a node's variant from a build for the running kernel, loads it
// through package loader with the stateful maps pinned on a bpffs (reused
// or migrated across loads), attaches every program to its tc hook (TCX
// links pinned so they outlive the loader, or a clsact qdisc with a
// direct-action filter at a fixed handle and priority), applies the
// datapath state a control plane gives it to the pinned maps, swaps builds
// with no moment without a program, and removes everything again.
//
// Vocabulary:
//
//	Build   a manifest and its objects, from a build directory or a bundle
//	        appended to the dpload binary (WriteBundle, OpenBundle)
//	Hook    one program on one side (ingress, egress) of one device
//	Record  what a Node attached and pinned, a JSON file outside bpffs
//	State   the control plane's view: endpoints, ipcache, services, ...
//
// Pins under Node.Dir: maps/NAME, progs/NAME (so a later state apply can
// put the endpoint programs on a new veth, and a replace can roll back),
// links/DEVICE-DIRECTION (TCX). Every step that changes the node is undone
// when a later step of the same operation fails.
package node
