package bindings

import (
	"testing"
)

// Static-configuration objects carry node values in dp_node_cfg instead of
// variables; the rest of their API must match the others'.
func TestCheckStaticFamily(t *testing.T) {
	progs := []Program{{Name: "p", Type: "SchedCLS"}}
	regular := &API{Programs: progs, Maps: []Map{{Name: "m"}}, Variables: []string{"cfg_a", "cfg_b"}}
	static := &API{Programs: progs, Maps: []Map{{Name: "m"}, {Name: StaticConfigMap}}}
	if errs := Check([]string{"a", "b", "c"}, []*API{regular, static, static}); len(errs) != 0 {
		t.Errorf("matching families: %v", errs)
	}
	missingVar := &API{Programs: progs, Maps: []Map{{Name: "m"}}, Variables: []string{"cfg_a"}}
	if errs := Check([]string{"a", "b"}, []*API{regular, missingVar}); len(errs) != 1 {
		t.Errorf("a regular variant without a variable: %v", errs)
	}
	staticExtra := &API{Programs: progs, Maps: []Map{{Name: "m"}, {Name: "x"}, {Name: StaticConfigMap}}}
	if errs := Check([]string{"a", "b"}, []*API{regular, staticExtra}); len(errs) != 1 {
		t.Errorf("a static variant with an extra map: %v", errs)
	}
}
