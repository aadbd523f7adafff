package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
)

// IsConfigMap reports whether data looks like a Kubernetes ConfigMap
// manifest rather than a matrix.
func IsConfigMap(data []byte) bool {
	var probe struct {
		Kind string `yaml:"kind"`
	}
	if len(data) > MaxFileSize || yaml.Unmarshal(data, &probe) != nil {
		return false
	}
	return probe.Kind == "ConfigMap"
}

// ParseConfigMap reads a cilium-config ConfigMap manifest as a one-node
// matrix on the given kernel, so `dpforge validate --kernel` can check the
// configuration a cluster already runs.
func ParseConfigMap(file string, data []byte, kernel features.Version) (*Matrix, diag.Diagnostics) {
	p := &parser{file: file}
	root := p.decodeDoc(data)
	if root == nil {
		return nil, p.diags.Sort()
	}
	name := "configmap"
	var dataNode *yaml.Node
	p.mapping(root, "the ConfigMap", nil, func(k, v *yaml.Node) {
		switch k.Value {
		case "metadata":
			p.mapping(v, "metadata", nil, func(kk, vv *yaml.Node) {
				if kk.Value == "name" && vv.Kind == yaml.ScalarNode && features.ValidName(vv.Value) {
					name = vv.Value
				}
			})
		case "data":
			dataNode = v
		}
	})
	sum := sha256.Sum256(data)
	m := &Matrix{File: file, Hash: hex.EncodeToString(sum[:]), Defaults: Options{Values: features.Config{}, Keys: map[string]diag.Position{}}}
	if dataNode == nil {
		p.errorf(root, diag.RuleMissingKey, "the ConfigMap has no data section")
		return m, p.diags.Sort()
	}
	ref := kernel.String()
	m.Kernels = []*KernelProfile{{Name: "kernel", Kernel: features.Kernel{Name: ref, Version: kernel, Release: ref}, Target: features.LittleEndian}}
	m.Nodes = []*Node{{Name: name, Pos: p.pos(root), KernelRef: "kernel", Config: p.options(dataNode, fmt.Sprintf("ConfigMap %q data", name))}}
	return m, p.diags.Sort()
}
