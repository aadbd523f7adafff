package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
)

// IsManifest reports whether data holds Kubernetes objects (a ConfigMap, or
// a rendered manifest of many documents such as `helm template` writes)
// rather than a matrix: some document has apiVersion and kind.
func IsManifest(data []byte) bool {
	if len(data) > MaxFileSize {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		err := dec.Decode(&head)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			// A document that is not a mapping (or not YAML) says nothing;
			// yaml.v3 cannot resume after a syntax error.
			var te *yaml.TypeError
			if errors.As(err, &te) {
				continue
			}
			return false
		}
		if head.APIVersion != "" && head.Kind != "" {
			return true
		}
	}
}

// ManifestInput is what the command line adds to a manifest.
type ManifestInput struct {
	// Kernel runs the configuration.
	Kernel *KernelProfile
	// Release, when set, is the Cilium release the user named; it wins over
	// the agent image's tag.
	Release string
}

// ParseManifest reads a cilium-config ConfigMap, alone or inside a rendered
// manifest, as a one-node matrix on the given kernel. The Cilium release is
// in.Release, else the tag of the cilium agent image in the manifest, else
// the newest modeled release.
func ParseManifest(file string, data []byte, in ManifestInput) (*Matrix, diag.Diagnostics) {
	p := &parser{file: file, lastWins: true}
	docs := p.decodeDocs(data)
	if docs == nil {
		return nil, p.diags.Sort()
	}
	var (
		cms         []*yaml.Node // ConfigMap roots
		cmNames     []string
		image       string
		imageNode   *yaml.Node
		ciliumIndex = -1
	)
	for _, root := range docs {
		if root.Kind != yaml.MappingNode {
			continue
		}
		kind := scalarAt(root, "kind")
		name := scalarAt(root, "metadata", "name")
		switch kind {
		case "ConfigMap":
			if name == "cilium-config" {
				if ciliumIndex >= 0 {
					p.errorf(root, diag.RuleDuplicateKey, "the manifest has two cilium-config ConfigMaps (the first at line %d)", cms[ciliumIndex].Line)
					continue
				}
				ciliumIndex = len(cms)
			}
			cms = append(cms, root)
			cmNames = append(cmNames, name)
		case "DaemonSet", "Deployment", "Pod":
			if img, n := agentImage(root); img != "" && image == "" {
				image, imageNode = img, n
			}
		}
	}
	if ciliumIndex < 0 && len(cms) == 1 {
		ciliumIndex = 0
	}
	sum := sha256.Sum256(data)
	m := &Matrix{File: file, Hash: hex.EncodeToString(sum[:]), Defaults: Options{Values: features.Config{}, Keys: map[string]diag.Position{}}}
	if ciliumIndex < 0 {
		p.diags = append(p.diags, diag.Diagnostic{Pos: diag.Position{File: file}, Severity: diag.Error, Rule: diag.RuleManifest,
			Message: fmt.Sprintf("the manifest has no cilium-config ConfigMap (ConfigMaps: %s)", orNone(cmNames))})
		return m, p.diags.Sort()
	}
	root := cms[ciliumIndex]
	name := cmNames[ciliumIndex]
	if !features.ValidName(name) {
		name = "configmap"
	}
	dataNode := valueAt(root, "data")
	if dataNode == nil {
		p.errorf(root, diag.RuleMissingKey, "the ConfigMap has no data section")
		return m, p.diags.Sort()
	}
	switch {
	case in.Release != "":
		m.Defaults.Values[features.ReleaseOption] = in.Release
		m.ReleaseFrom = "--cilium-version"
	case image != "":
		tag := imageTag(image)
		if r, err := features.ParseRelease(tag); err == nil {
			m.Defaults.Values[features.ReleaseOption] = r.String()
			m.Defaults.Keys[features.ReleaseOption] = p.pos(imageNode)
			m.ReleaseFrom = "the agent image " + image
		} else {
			p.warnf(imageNode, diag.RuleCiliumVersion, "cannot tell the Cilium release from the agent image %q (%v); judging as Cilium %s, set --cilium-version", image, err, features.Newest)
		}
	}
	kp := in.Kernel
	if kp == nil {
		p.errorf(root, diag.RuleMissingInput, "a ConfigMap names no kernel; pass --kernel VERSION, a distribution (%s) or a probe file", strings.Join(features.DistroNames(), ", "))
		return m, p.diags.Sort()
	}
	m.Kernels = []*KernelProfile{kp}
	node := &Node{Name: name, Pos: p.pos(root), KernelRef: kp.Name, Config: p.options(dataNode, fmt.Sprintf("ConfigMap %q data", name))}
	m.Nodes = []*Node{node}
	return m, p.diags.Sort()
}

// decodeDocs parses every document of a manifest with the same bounds and
// refusals as a matrix (size, node count, aliases).
func (p *parser) decodeDocs(data []byte) []*yaml.Node {
	if len(data) > MaxFileSize {
		p.diags = append(p.diags, diag.Diagnostic{Pos: diag.Position{File: p.file}, Severity: diag.Error, Rule: diag.RuleFileTooLarge,
			Message: fmt.Sprintf("input is %d bytes; the limit is %d", len(data), MaxFileSize)})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var roots []*yaml.Node
	count := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.yamlError(err)
			return nil
		}
		if !p.checkTree(&doc, &count) {
			return nil
		}
		if len(doc.Content) > 0 {
			roots = append(roots, doc.Content[0])
		}
	}
	if len(roots) == 0 {
		p.diags = append(p.diags, diag.Diagnostic{Pos: diag.Position{File: p.file}, Severity: diag.Error, Rule: diag.RuleYAML, Message: "empty document"})
		return nil
	}
	return roots
}

// agentImage finds the cilium agent's image in a workload: the container
// whose image repository is named cilium.
func agentImage(root *yaml.Node) (string, *yaml.Node) {
	spec := valueAt(root, "spec", "template", "spec")
	if spec == nil {
		spec = valueAt(root, "spec")
	}
	for _, list := range []string{"containers", "initContainers"} {
		cs := valueAt(spec, list)
		if cs == nil || cs.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range cs.Content {
			img := valueAt(c, "image")
			if img == nil || img.Kind != yaml.ScalarNode {
				continue
			}
			repo := img.Value
			if i := strings.IndexAny(repo, "@"); i >= 0 {
				repo = repo[:i]
			}
			if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
				repo = repo[:i]
			}
			if path.Base(repo) == "cilium" {
				return img.Value, img
			}
		}
	}
	return "", nil
}

// imageTag returns an image reference's tag ("v1.14.5" of
// "quay.io/cilium/cilium:v1.14.5@sha256:...").
func imageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// valueAt follows mapping keys from n; nil when a key is missing.
func valueAt(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func scalarAt(n *yaml.Node, keys ...string) string {
	if v := valueAt(n, keys...); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
