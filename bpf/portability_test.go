package bpf

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// helpersNeeding lists helpers that only some kernels have, and the macro
// that must be set for a program to call them.
var helpersNeeding = map[asm.BuiltinFunc]string{
	asm.FnRedirectPeer:   "ENABLE_HOST_ROUTING", // 5.10
	asm.FnRedirectNeigh:  "ENABLE_HOST_ROUTING", // 5.10
	asm.FnRingbufOutput:  "HAVE_RINGBUF",        // 5.8
	asm.FnRingbufReserve: "HAVE_RINGBUF",
	asm.FnRingbufSubmit:  "HAVE_RINGBUF",
}

// TestPortability checks the rules that keep objects loadable on old
// kernels: no tail calls, no CO-RE, no loops (pre-5.3 verifiers reject any
// cycle, in subprograms too), and version-specific helpers only behind
// their macro. BPF-to-BPF calls (4.16) are allowed here: these objects
// need global data (5.2); TestOldKernelVariants keeps them out of the
// objects for older kernels.
func TestPortability(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			spec := loadSpec(t, v)
			for name, prog := range spec.Programs {
				insns := prog.Instructions
				fn := name // the function instruction i belongs to
				for i, ins := range insns {
					if btf.CORERelocationMetadata(&ins) != nil {
						t.Errorf("%s: CO-RE relocation at instruction %d", name, i)
					}
					if sym := ins.Symbol(); i > 0 && sym != "" {
						fn = sym
					}
					switch {
					case ins.IsKfuncCall():
						t.Errorf("%s: call that is not a helper: %v", name, ins)
					case ins.IsFunctionCall() && fn != name:
						// The verifier adds up the frames of a call chain
						// against 512 bytes (include/common.h, __dp_outline).
						t.Errorf("%s: subprogram %s calls %s: subprograms are called from programs only", name, fn, ins.Reference())
					case ins.IsBuiltinCall():
						fn := asm.BuiltinFunc(ins.Constant)
						if fn == asm.FnTailCall {
							t.Errorf("%s: tail call", name)
						}
						if m, ok := helpersNeeding[fn]; ok && !v.has(m) {
							t.Errorf("%s: calls %v without %s", name, fn, m)
						}
					}
				}
				if err := checkAcyclic(insns); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

// checkAcyclic runs a depth-first search over the program's control-flow
// graph, the way pre-5.3 verifiers' check_cfg does, and reports a back-edge.
// A BPF-to-BPF call is an edge to its subprogram as well as to the next
// instruction.
func checkAcyclic(insns asm.Instructions) error {
	// Raw (8-byte slot) offset of every instruction, and the reverse;
	// the instruction each subprogram's symbol names.
	var offsets []int
	index := map[int]int{}
	symbols := map[string]int{}
	raw := 0
	for i, ins := range insns {
		offsets = append(offsets, raw)
		index[raw] = i
		if sym := ins.Symbol(); sym != "" {
			symbols[sym] = i
		}
		raw += int(ins.Size() / 8)
	}

	succ := func(i int) []int {
		ins := insns[i]
		next := []int{}
		if i+1 < len(insns) {
			next = append(next, i+1)
		}
		if !ins.OpCode.Class().IsJump() {
			return next
		}
		switch ins.OpCode.JumpOp() {
		case asm.Exit:
			return nil
		case asm.Call:
			if target, ok := symbols[ins.Reference()]; ok && ins.IsFunctionCall() {
				return append(next, target)
			}
			return next
		}
		target, ok := index[offsets[i]+1+int(ins.Offset)]
		if !ok {
			return nil
		}
		if ins.OpCode.JumpOp() == asm.Ja {
			return []int{target}
		}
		return append(next, target)
	}

	const (
		unseen = iota
		onStack
		done
	)
	state := make([]int, len(insns))
	type frame struct{ node, edge int }
	stack := []frame{{0, 0}}
	state[0] = onStack
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		edges := succ(top.node)
		if top.edge == len(edges) {
			state[top.node] = done
			stack = stack[:len(stack)-1]
			continue
		}
		w := edges[top.edge]
		top.edge++
		switch state[w] {
		case onStack:
			return fmt.Errorf("back-edge from instruction %d to %d (a loop)", offsets[top.node], offsets[w])
		case unseen:
			state[w] = onStack
			stack = append(stack, frame{w, 0})
		}
	}
	return nil
}

func TestCheckAcyclicFindsLoops(t *testing.T) {
	loop := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.Add.Imm(asm.R0, 1),
		asm.JLT.Imm(asm.R0, 10, "").WithMetadata(asm.Metadata{}),
		asm.Return(),
	}
	loop[2].Offset = -2 // back to the add
	if err := checkAcyclic(loop); err == nil {
		t.Error("a loop went unnoticed")
	}
	loop[2].Offset = 0
	if err := checkAcyclic(loop); err != nil {
		t.Errorf("straight-line code: %v", err)
	}
}
