package verify

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
)

func TestOldKernelSize(t *testing.T) {
	prog := func(n int) *ebpf.ProgramSpec {
		insns := make(asm.Instructions, 0, n)
		for i := 0; i < n-1; i++ {
			insns = append(insns, asm.Mov.Imm(asm.R0, 0))
		}
		return &ebpf.ProgramSpec{Instructions: append(insns, asm.Return())}
	}
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"fits": prog(OldKernelMaxInsns), "big": prog(OldKernelMaxInsns + 1),
	}}
	static := &manifest.Variant{ID: "old", Defines: map[string]string{features.StaticConfigDefine: "1"}}
	err := checkOldKernelSize(static, spec)
	if err == nil || !strings.Contains(err.Error(), `program "big" has 4097 instructions`) || strings.Contains(err.Error(), `"fits"`) {
		t.Errorf("static variant: got %v, want the big program refused and the other not", err)
	}
	if err := checkOldKernelSize(&manifest.Variant{ID: "new", Defines: map[string]string{}}, spec); err != nil {
		t.Errorf("variant with load-time values (5.2+): %v, want no size limit", err)
	}
}
