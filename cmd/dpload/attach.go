package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/probe"
)

// kernel probes the running kernel into a profile.
func kernel() (features.Kernel, error) {
	r, err := probe.Run()
	if err != nil {
		return features.Kernel{}, fmt.Errorf("probing the kernel: %w", err)
	}
	return features.Kernel{Name: r.Release, Version: r.Version, Release: r.Release, Probed: r.Capabilities}, nil
}

// pick chooses the variant and attach mode.
func pick(b *node.Build, name string, auto bool, variant string, routing node.Routing, mode node.AttachMode) (node.Choice, node.AttachMode, error) {
	k, err := kernel()
	if err != nil {
		return node.Choice{}, "", err
	}
	var choice node.Choice
	if variant != "" {
		v := b.Manifest.Variant(variant)
		if v == nil {
			return node.Choice{}, "", fmt.Errorf("variant %q is not in build %s", variant, b.ID)
		}
		if miss := node.Requirements(v, k); len(miss) > 0 {
			return node.Choice{}, "", fmt.Errorf("variant %s cannot run on kernel %s: %v", variant, k, miss)
		}
		choice = node.Choice{Variant: variant, Reason: "given with --variant"}
	} else if choice, err = node.Pick(b.Manifest, name, k, auto, routing); err != nil {
		return node.Choice{}, "", err
	}
	if mode == "" {
		mode = node.AttachTC
		if ok, _ := k.Has(features.CapTCX); ok {
			mode = node.AttachTCX
		}
	} else if ok, how := k.Has(features.CapTCX); mode == node.AttachTCX && !ok {
		return node.Choice{}, "", fmt.Errorf("--attach tcx: kernel %s has no TCX (%s); use --attach tc", k, how)
	}
	return choice, mode, nil
}

// parseRouting is --routing-mode given an overlay device or not: tunnel
// routing needs one; native routing may have one (the egress gateway's).
func parseRouting(mode string, overlay bool) (node.Routing, error) {
	switch mode {
	case "":
		return node.Routing{Tunnel: overlay, Overlay: overlay}, nil
	case "native":
		return node.Routing{Overlay: overlay}, nil
	case "tunnel":
		if !overlay {
			return node.Routing{}, fmt.Errorf("--routing-mode tunnel needs the overlay device (--tunnel-device)")
		}
		return node.Routing{Tunnel: true, Overlay: true}, nil
	}
	return node.Routing{}, fmt.Errorf("--routing-mode %q: want tunnel or native", mode)
}

type attachResult struct {
	Record *node.Record `json:"record"`
	Reason string       `json:"reason"`
	Millis float64      `json:"millis"`
}

func runAttach(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flagSet("attach", "attach --node NAME --devices DEV[,DEV] [--tunnel-device DEV] [--auto] [--attach tcx|tc] [--build DIR]",
		"dpload attach --node vxlan-worker-1 --devices eth0 --tunnel-device cilium_vxlan --build out", stderr, &c)
	nodeName := fs.String("node", "", "node name in the build's manifest")
	devices := fs.StringSlice("devices", nil, "native devices (comma-separated)")
	tunnel := fs.String("tunnel-device", "", "overlay device (vxlan/geneve, collect-metadata) for tunnel variants")
	auto := fs.Bool("auto", false, "pick the variant with the most features this kernel can run")
	routingMode := fs.String("routing-mode", "", "with --auto: the cluster's routing, tunnel or native (default: tunnel with --tunnel-device, else native)")
	variant := fs.String("variant", "", "variant id to run instead of the node's (values from the devices and --set)")
	var mode node.AttachMode
	fs.Var(&mode, "attach", "tcx or tc (default: tcx where the kernel has it)")
	fs.StringVar(&c.build, "build", "", "build directory (default: the build embedded in this binary)")
	values := fs.StringToString("set", nil, "override load-time values, e.g. cfg_node_ipv4=192.168.0.1")
	mapMax := fs.StringToInt("map-max", nil, "override maps' maximum entries, e.g. dp_services=65536")
	if code, ok := c.parse(args); !ok {
		return code
	}
	if *nodeName == "" && !*auto && *variant == "" {
		fmt.Fprintln(stderr, "dpload attach: --node NAME, --variant ID or --auto is required")
		return exitUsage
	}
	if len(*devices) == 0 {
		fmt.Fprintln(stderr, "dpload attach: --devices is required")
		return exitUsage
	}
	routing, err := parseRouting(*routingMode, *tunnel != "")
	if err != nil {
		return c.fs.UsageError("%v", err)
	}
	start := time.Now()
	b, err := c.openBuild()
	if err != nil {
		return fail(stderr, "attach", err)
	}
	choice, mode, err := pick(b, *nodeName, *auto, *variant, routing, mode)
	if err != nil {
		return fail(stderr, "attach", err)
	}
	spec := node.Spec{Build: b, Node: *nodeName, Variant: choice.Variant, Devices: *devices, Tunnel: *tunnel, Mode: mode, Values: *values, MapMax: sizes(*mapMax)}
	n := c.node()
	var r *node.Record
	if old, err := n.LoadRecord(); err == nil && sameDevices(old, spec) {
		// Attached already, on these devices: a newer loader (or build)
		// takes over the way replace does, without a gap.
		if r, _, err = n.Replace(spec); err != nil {
			return fail(stderr, "attach", fmt.Errorf("%w (the previous datapath, variant %s of build %s, is still attached)", err, old.Variant, old.Build))
		}
		choice.Reason += fmt.Sprintf("; replaced variant %s of build %s", old.Variant, old.Build)
	} else if r, err = n.Attach(spec); err != nil {
		return fail(stderr, "attach", err)
	}
	took := time.Since(start)
	if c.output == "json" {
		writeJSON(stdout, attachResult{r, choice.Reason, float64(took.Microseconds()) / 1000})
		return exitOK
	}
	fmt.Fprintf(stdout, "attached variant %s of build %s to node %q in %s (%s): %s\n", r.Variant, r.Build, r.Node, took.Round(time.Millisecond), r.Mode, choice.Reason)
	for _, h := range r.Hooks {
		fmt.Fprintf(stdout, "  %-10s %-8s %s\n", h.Device, h.Direction, h.Program)
	}
	return exitOK
}

func runReplace(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flagSet("replace", "replace --build DIR [--node NAME | --auto | --variant ID]",
		"dpload replace --build out-v2", stderr, &c)
	fs.StringVar(&c.build, "build", "", "build directory (default: the build embedded in this binary)")
	nodeName := fs.String("node", "", "node name in the new build (default: the attached node's)")
	auto := fs.Bool("auto", false, "pick the variant with the most features this kernel can run")
	routingMode := fs.String("routing-mode", "", "with --auto: tunnel or native (default: tunnel if attached with an overlay device, else native)")
	variant := fs.String("variant", "", "variant id to run instead of the node's")
	mapMax := fs.StringToInt("map-max", nil, "override maps' maximum entries (kept from attach unless given)")
	if code, ok := c.parse(args); !ok {
		return code
	}
	n := c.node()
	old, err := n.LoadRecord()
	if err != nil {
		return fail(stderr, "replace", err)
	}
	if *nodeName == "" {
		*nodeName = old.Node
	}
	start := time.Now()
	b, err := c.openBuild()
	if err != nil {
		return fail(stderr, "replace", err)
	}
	reason := "given with --variant"
	id := *variant
	if id == "" {
		routing, err := parseRouting(*routingMode, old.Tunnel != "")
		if err != nil {
			return c.fs.UsageError("%v", err)
		}
		choice, _, err := pick(b, *nodeName, *auto, "", routing, old.Mode)
		if err != nil {
			return fail(stderr, "replace", err)
		}
		id, reason = choice.Variant, choice.Reason
	}
	r, migrated, err := n.Replace(node.Spec{Build: b, Node: *nodeName, Variant: id, MapMax: sizes(*mapMax)})
	if err != nil {
		return fail(stderr, "replace", fmt.Errorf("%w (the previous datapath, variant %s of build %s, is still attached)", err, old.Variant, old.Build))
	}
	took := time.Since(start)
	if c.output == "json" {
		writeJSON(stdout, struct {
			attachResult
			Migrated []string `json:"migrated"`
		}{attachResult{r, reason, float64(took.Microseconds()) / 1000}, migrated})
		return exitOK
	}
	fmt.Fprintf(stdout, "replaced variant %s of build %s by variant %s of build %s on %d hooks in %s: %s\n",
		old.Variant, old.Build, r.Variant, r.Build, len(r.Hooks), took.Round(time.Millisecond), reason)
	if len(migrated) > 0 {
		fmt.Fprintf(stdout, "migrated maps: %s\n", strings.Join(migrated, ", "))
	}
	return exitOK
}

func runDetach(args []string, stdout, stderr io.Writer) int {
	var c common
	flagSet("detach", "detach", "dpload detach", stderr, &c)
	if code, ok := c.parse(args); !ok {
		return code
	}
	if err := c.node().Detach(); err != nil {
		return fail(stderr, "detach", err)
	}
	if c.output == "json" {
		writeJSON(stdout, struct {
			Detached bool `json:"detached"`
		}{true})
		return exitOK
	}
	fmt.Fprintln(stdout, "detached")
	return exitOK
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	var c common
	flagSet("status", "status [-o json]", "dpload status -o json", stderr, &c)
	if code, ok := c.parse(args); !ok {
		return code
	}
	st, err := c.node().Status()
	if err != nil {
		return fail(stderr, "status", err)
	}
	broken := 0
	for _, h := range st.Hooks {
		if !h.Attached {
			broken++
		}
	}
	if c.output == "json" {
		writeJSON(stdout, st)
	} else {
		r := st.Record
		fmt.Fprintf(stdout, "node %s: variant %s of build %s (%s), %s\n", r.Node, r.Variant, r.Build, r.Source, r.Mode)
		fmt.Fprintln(stdout, "hooks:")
		for _, h := range st.Hooks {
			state := fmt.Sprintf("program %d", h.ProgramID)
			if !h.Attached {
				state = "NOT ATTACHED: " + h.Problem
			}
			fmt.Fprintf(stdout, "  %-12s %-8s %-19s %s\n", h.Device, h.Direction, h.Program, state)
		}
		fmt.Fprintln(stdout, "maps:")
		for _, m := range st.Maps {
			fill := "-"
			if m.Entries >= 0 {
				fill = fmt.Sprintf("%d/%d", m.Entries, m.MaxEntries)
			}
			fmt.Fprintf(stdout, "  %-13s %-14s %s\n", m.Name, m.Type, fill)
		}
		fmt.Fprintln(stdout, "drops:")
		for _, d := range st.Drops {
			fmt.Fprintf(stdout, "  %-24s %-19s %-8s %d packets, %d bytes\n", d.Reason, d.Hook, d.Dir, d.Packets, d.Bytes)
		}
	}
	if broken > 0 {
		fmt.Fprintf(stderr, "dpload status: %d hooks are not attached as recorded\n", broken)
		return exitProblems
	}
	return exitOK
}

func runState(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flagSet("state", "state apply FILE", "dpload state apply node-state.yaml", stderr, &c)
	if code, ok := c.parse(args); !ok {
		return code
	}
	if fs.NArg() != 2 || fs.Arg(0) != "apply" {
		fmt.Fprintln(stderr, "dpload state: want: state apply FILE")
		return exitUsage
	}
	data, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return fail(stderr, "state apply", err)
	}
	st, err := node.ParseState(data)
	if err != nil {
		return fail(stderr, "state apply", fmt.Errorf("%s: %w", fs.Arg(1), err))
	}
	start := time.Now()
	rep, err := c.node().ApplyState(st, node.LinkInfo)
	if err != nil {
		return fail(stderr, "state apply", err)
	}
	took := time.Since(start)
	if c.output == "json" {
		writeJSON(stdout, struct {
			*node.ApplyReport
			Millis float64
		}{rep, float64(took.Microseconds()) / 1000})
		return exitOK
	}
	fmt.Fprintf(stdout, "applied in %s: %d added, %d updated, %d removed, %d unchanged; endpoints attached %q, detached %q\n",
		took.Round(time.Millisecond), rep.Added, rep.Updated, rep.Removed, rep.Unchanged, rep.Attached, rep.Detached)
	return exitOK
}

func sizes(m map[string]int) map[string]uint32 {
	if len(m) == 0 {
		return nil
	}
	out := map[string]uint32{}
	for k, v := range m {
		out[k] = uint32(max(v, 0))
	}
	return out
}

// sameDevices reports whether an attach names the devices and attach mode
// of what is attached.
func sameDevices(r *node.Record, s node.Spec) bool {
	return slices.Equal(r.Devices, s.Devices) && r.Tunnel == s.Tunnel && r.Mode == s.Mode
}
