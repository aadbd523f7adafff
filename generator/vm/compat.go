package vm

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/asm"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/features"
)

// CheckOldKernel checks an object against what a kernel older than any that
// can be booted here takes, by reading it: no global data sections
// (.rodata, .data, .bss: BPF global data arrived in 5.2), no helper, map
// type or program type newer than the kernel by the table of
// features.Since, and, before 5.2, programs of at most 4096 instructions
// whose verified count elsewhere stayed under that kernel's 131072.
// verified maps a program to the instructions a booted kernel's verifier
// processed (nil: not checked). It returns one problem per finding, sorted.
//
// BTF is not checked here: the loader (cilium/ebpf) sends a kernel only the
// BTF it takes (map BTF without Var/Datasec before 5.2, no func and line
// info before 5.0), which is the loader's guarantee, not the object's.
func CheckOldKernel(path string, k features.Version, verified map[string]uint32) ([]string, error) {
	var problems []string
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading object: %w", err)
	}
	for _, s := range f.Sections {
		for _, global := range []string{".rodata", ".data", ".bss"} {
			if s.Name == global || strings.HasPrefix(s.Name, global+".") {
				problems = append(problems, fmt.Sprintf("section %s: global data needs kernel 5.2", s.Name))
			}
		}
	}
	f.Close()
	spec, err := loader.LoadSpec(path)
	if err != nil {
		return nil, err
	}
	need := func(what, where string) {
		v, ok := features.Since(what)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s uses %s, which the kernel table does not know", where, what))
		case !k.AtLeast(v):
			problems = append(problems, fmt.Sprintf("%s uses %s, which needs kernel %s", where, what, v.Short()))
		}
	}
	for name, m := range spec.Maps {
		need("map:"+m.Type.String(), "map "+name)
	}
	large := k.AtLeast(features.V(5, 2, 0))
	for name, p := range spec.Programs {
		where := "program " + name
		need("prog:"+p.Type.String(), where)
		seen := map[string]bool{}
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() {
				h := helperName(asm.BuiltinFunc(ins.Constant))
				if !seen[h] {
					seen[h] = true
					need("helper:"+h, where)
				}
			}
		}
		if large {
			continue
		}
		if n := len(p.Instructions); n > features.MaxInsnsBefore52 {
			problems = append(problems, fmt.Sprintf("%s has %d instructions, kernel %s takes at most %d", where, n, k.Short(), features.MaxInsnsBefore52))
		}
		if n, ok := verified[name]; ok && n > features.MaxProcessedBefore52 {
			problems = append(problems, fmt.Sprintf("%s needed %d verified instructions, kernel %s stops at %d", where, n, k.Short(), features.MaxProcessedBefore52))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// helperName turns cilium/ebpf's name of a helper (FnSkbLoadBytes) into the
// UAPI's without its prefix (skb_load_bytes).
func helperName(fn asm.BuiltinFunc) string {
	s := strings.TrimPrefix(fn.String(), "Fn")
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
