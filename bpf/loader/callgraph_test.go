package loader_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf/loader"
)

func TestCallGraph(t *testing.T) {
	// main calls a and b; a calls c; b passes c as a callback.
	insns := asm.Instructions{
		asm.Call.Label("a").WithSymbol("main"),
		asm.Call.Label("b"),
		asm.Return(),
		asm.Call.Label("c").WithSymbol("a"),
		asm.Return(),
		asm.LoadImm(asm.R1, 0, asm.DWord).WithReference("c").WithSymbol("b"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("c"),
		asm.Return(),
	}
	// Label makes a call by name; a callback's load needs PseudoFunc.
	insns[5].Src = asm.PseudoFunc
	calls, ok := loader.CallGraph(insns)
	if !ok {
		t.Fatal("CallGraph: not ok")
	}
	if diff := cmp.Diff([][]int{{1, 2}, {3}, {3}, nil}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if _, ok := loader.CallGraph(asm.Instructions{asm.Call.Label("nowhere").WithSymbol("main"), asm.Return()}); ok {
		t.Error("a call to a function not in the program: ok")
	}
}
