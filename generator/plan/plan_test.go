package plan

import (
	"strings"
	"testing"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/config"
)

func TestFits(t *testing.T) {
	m, diags := config.Parse("m.yaml", []byte(`
kernels:
  new: {version: 6.12.0}
nodes:
  - name: a
    kernel: new
    config: {tunnel: disabled, auto-direct-node-routes: true, kube-proxy-replacement: "true", enable-bpf-masquerade: true}
`), nil)
	if m == nil || diags.HasErrors() {
		t.Fatalf("matrix: %v", diags)
	}
	p := Make(m, "")
	if len(p.Variants) != 1 {
		t.Fatalf("%d variants", len(p.Variants))
	}
	v := p.Variants[0]
	k := func(s string) features.Kernel { return features.Kernel{Name: s, Version: features.MustVersion(s)} }
	for _, s := range []string{"6.12.0", "7.3.4", "5.10.0"} {
		if ok, why := p.Fits(v, k(s)); !ok {
			t.Errorf("variant with host routing does not fit %s: %s", s, why)
		}
	}
	ok, why := p.Fits(v, k("5.4.0"))
	if ok || !strings.Contains(why, "5.10") {
		t.Errorf("Fits(5.4) = %v, %q; want no, naming 5.10", ok, why)
	}
}
