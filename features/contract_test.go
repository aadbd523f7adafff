package features_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/features"
)

// TestDefinesAreTheDatapaths checks that the feature table defines exactly
// the macros the datapath reads (bpf.Macros, itself checked against the C
// #if lines), each with a value the datapath accepts.
func TestDefinesAreTheDatapaths(t *testing.T) {
	table := map[string][]string{}
	for _, f := range features.Features {
		for _, d := range f.Defines {
			table[d.Name] = append(table[d.Name], d.Value)
		}
	}
	var declared []string
	for _, m := range bpf.Macros {
		declared = append(declared, m.Name)
		for _, v := range table[m.Name] {
			ok := v == "1" && m.Values == nil || slices.Contains(m.Values, v)
			if !ok {
				t.Errorf("the table defines %s=%s; the datapath accepts %v", m.Name, v, m.Values)
			}
		}
	}
	if diff := cmp.Diff(declared, slices.Sorted(maps.Keys(table))); diff != "" {
		t.Errorf("macros the datapath reads vs macros the feature table defines (-bpf +table):\n%s", diff)
	}
}

// nodeFacts are the load-time variables the node-side loader fills from
// the machine it runs on (addresses, interfaces, tracing, the drop-event
// rate limit), not from the feature model.
var nodeFacts = []string{
	bpf.VarEncapIfindex, bpf.VarEventsBurst, bpf.VarEventsRate, bpf.VarNativeIfindex, bpf.VarNodeIPv4, bpf.VarNodeMAC,
	bpf.VarTrace,
}

// cVariable matches a load-time variable of the C source.
var cVariable = regexp.MustCompile(`(?m)^volatile const [a-z0-9_ ]+?\b(cfg_[a-z0-9_]+)\s*(\[|=|;)`)

// TestLoadTimeVariablesAreTheDatapaths checks that the load-time values
// the model resolves, together with the node facts, are exactly the
// datapath's volatile const variables: bpf.Variables and the C source.
func TestLoadTimeVariablesAreTheDatapaths(t *testing.T) {
	// Configurations that between them switch on every load-time value.
	k := features.Kernel{Name: "6.12", Version: features.V(6, 12, 0)}
	configs := []features.Config{
		{"tunnel": "vxlan", "tunnel-port": "9999", "mtu": "1450", "cluster-id": "3", "kube-proxy-replacement": "true",
			"enable-bpf-masquerade": "true", "ipv4-native-routing-cidr": "10.0.0.0/8", "enable-vtep": "true",
			"vtep-endpoint": "10.1.0.1", "vtep-cidr": "10.2.0.0/16", "vtep-mac": "02:00:00:00:00:01", "vtep-mask": "255.255.0.0"},
		{"tunnel": "disabled", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true",
			"ipv4-native-routing-cidr": "10.0.0.0/8", "node-port-range": "30000,32767", "bpf-lb-algorithm": "maglev"},
	}
	model := map[string]bool{}
	for _, cfg := range configs {
		r := features.Resolve(cfg, k, "")
		for _, v := range r.Values {
			model[v.Var] = true
		}
	}
	// Every branch of the model's load-time values is covered above.
	for _, want := range []string{bpf.VarMTU, bpf.VarClusterID, bpf.VarTunnelPort, bpf.VarNodePortMin, bpf.VarNodePortMax,
		bpf.VarSNATExclIPv4, bpf.VarSNATExclIPv4Len, bpf.VarVTEPMask, bpf.VarSNATPortMin, bpf.VarSNATPortMax,
		bpf.VarLoopbackIPv4, bpf.VarMaglevTableSize} {
		if !model[want] {
			t.Errorf("no configuration above resolves load-time value %s", want)
		}
	}
	all := slices.Clone(nodeFacts)
	for v := range model {
		if slices.Contains(nodeFacts, v) {
			t.Errorf("%s is both resolved by the model and a node fact", v)
		}
		all = append(all, v)
	}
	slices.Sort(all)
	if diff := cmp.Diff(bpf.Variables, all); diff != "" {
		t.Errorf("bpf.Variables vs the model's values and node facts (-bpf +model):\n%s", diff)
	}

	var inC []string
	err := fs.WalkDir(bpf.Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(bpf.Source, path)
		for _, m := range cVariable.FindAllStringSubmatch(string(data), -1) {
			inC = append(inC, m[1])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inC)
	if diff := cmp.Diff(bpf.Variables, inC); diff != "" {
		t.Errorf("bpf.Variables vs volatile const variables of the C source (-go +c):\n%s", diff)
	}
}

// TestStandardLibraryOnly keeps the model pure: package features, and
// features/diag if present, import nothing but the standard library (and
// each other). Kernel probing lives in features/probe, which is exempt.
func TestStandardLibraryOnly(t *testing.T) {
	const self = "github.com/dpforge/dpforge/features"
	if _, err := os.Stat("doc.go"); err != nil {
		t.Fatalf("not run from the features directory: %v", err)
	}
	for _, dir := range []string{".", "diag"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 && dir != "." {
			continue
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				first, _, _ := strings.Cut(path, "/")
				if path == self+"/diag" || !strings.Contains(first, ".") {
					continue
				}
				t.Errorf("%s imports %q: the model may use the standard library only", file, path)
			}
		}
	}
}
