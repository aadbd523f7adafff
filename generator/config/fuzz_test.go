package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzManifest reads arbitrary bytes as a rendered manifest: nothing may
// panic, and a manifest either yields its one node or says why not.
func FuzzManifest(f *testing.F) {
	for _, name := range []string{"minikube-1.16-manifest.yaml", "kops-1.15-eni.yaml"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "configmaps", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config}\ndata: {mtu: \"\", cluster-id: x}\n---\nkind: DaemonSet\napiVersion: apps/v1\nspec: {template: {spec: {containers: [{image: 'cilium:v1.99'}]}}}\n"))
	f.Add([]byte("---\n---\napiVersion: v1\nkind: ConfigMap\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !IsManifest(data) {
			return
		}
		m, ds := ParseManifest("fuzz.yaml", data, ManifestInput{Kernel: lts()})
		if m == nil {
			if !ds.HasErrors() {
				t.Fatalf("no matrix and no error: %v", ds)
			}
			return
		}
		if !ds.HasErrors() && len(m.Nodes) != 1 {
			t.Fatalf("a valid manifest gave %d nodes", len(m.Nodes))
		}
	})
}
