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
	if errs := Check([]string{"a", "b", "c"}, []*API{regular, static, static}, [][]byte{[]byte("R"), []byte("S"), []byte("S")}); len(errs) != 0 {
		t.Errorf("matching families: %v", errs)
	}
	missingVar := &API{Programs: progs, Maps: []Map{{Name: "m"}}, Variables: []string{"cfg_a"}}
	if errs := Check([]string{"a", "b"}, []*API{regular, missingVar}, [][]byte{nil, nil}); len(errs) != 1 {
		t.Errorf("a regular variant without a variable: %v", errs)
	}
	staticExtra := &API{Programs: progs, Maps: []Map{{Name: "m"}, {Name: "x"}, {Name: StaticConfigMap}}}
	if errs := Check([]string{"a", "b"}, []*API{regular, staticExtra}, [][]byte{nil, nil}); len(errs) != 1 {
		t.Errorf("a static variant with an extra map: %v", errs)
	}
	if errs := Check([]string{"a", "b", "c"}, []*API{regular, static, static}, [][]byte{[]byte("R"), []byte("S"), []byte("T")}); len(errs) != 1 {
		t.Errorf("static variants with different types: %v", errs)
	}
	if i := ReferenceTypes([]*API{static, regular}); i != 1 {
		t.Errorf("ReferenceTypes = %d, want the regular variant", i)
	}
}
