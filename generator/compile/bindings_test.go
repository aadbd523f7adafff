package compile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBindingsCompile builds and vets the generated bindings module offline
// from the module cache, then runs a program against its registry.
func TestBindingsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in $PATH")
	}
	d := newDirs(t)
	opts := d.options()
	opts.GoImportPath = "example.test/dp"
	jobs := append(fixtureJobs(t), Job{ID: "base-eb", Header: header(t, "base"), CPU: "v1", Target: "bpfeb"})
	mustBuild(t, jobs, opts)
	bindings := filepath.Join(d.out, bindingsDir)

	// A program inside the bindings module that uses the registry.
	check := filepath.Join(bindings, "internal", "check")
	os.MkdirAll(check, 0o755)
	os.WriteFile(filepath.Join(check, "main.go"), []byte(`package main

import (
	"fmt"
	"slices"

	"example.test/dp"
	"example.test/dp/v_policy_v3"
)

func main() {
	for _, id := range datapath.IDs() {
		load, ok := datapath.Lookup(id)
		if !ok {
			panic(id)
		}
		spec, err := load()
		if err != nil {
			panic(err)
		}
		var progs []string
		for name := range spec.Programs {
			progs = append(progs, name)
		}
		slices.Sort(progs)
		// The registry's types fit every variant.
		var specs datapath.DatapathSpecs
		if err := spec.Assign(&specs); err != nil || specs.DpIngress == nil || specs.DpPolicy == nil {
			panic(fmt.Sprint(id, err))
		}
		fmt.Println(id, progs, len(spec.Maps), len(spec.Variables))
	}
	var key datapath.DatapathDpPolicyKey
	key.Node = 1
	if _, ok := datapath.Lookup("nope"); ok {
		panic("nope")
	}
	// The typed bpf2go API is there too.
	var objs v_policy_v3.DatapathObjects
	_ = objs.DpIngress
	fmt.Println(v_policy_v3.DatapathProgDpEgress)
}
`), 0o644)

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gobin, args...)
		cmd.Dir = bindings
		// Offline and without touching go.mod/go.sum: what we wrote must be
		// complete.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build", "./...")
	run("vet", "./...")
	got := run("run", "./internal/check")
	// base-eb is big endian: not available on this (little endian) host.
	want := "base [dp_egress dp_ingress] 3 1\n" +
		"policy-v2 [dp_egress dp_ingress] 3 1\n" +
		"policy-v3 [dp_egress dp_ingress] 3 1\n" +
		"dp_egress\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registry program output (-want +got):\n%s", diff)
	}
	// On a big-endian architecture the registry holds only base-eb.
	cmd := exec.Command(gobin, "vet", ".", "./v_base", "./v_base_eb")
	cmd.Dir = bindings
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOARCH=s390x")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("GOARCH=s390x go vet: %v\n%s", err, out)
	}
	if types, err := os.ReadFile(filepath.Join(bindings, "types.go")); err != nil || strings.Contains(string(types), "go:embed") || strings.Contains(string(types), "func LoadDatapath") {
		t.Errorf("types.go (%v) embeds or loads an object:\n%s", err, types)
	}
	reg, _ := os.ReadFile(filepath.Join(bindings, "registry_bpfeb.go"))
	if !strings.Contains(string(reg), `variants["base-eb"] = v_base_eb.LoadDatapath`) {
		t.Errorf("registry_bpfeb.go:\n%s", reg)
	}
}
