package config

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/features"
)

// ProbeFile is what `dpforge probe` writes about a node's kernel: its
// release and version and every capability the probe could decide. A
// capability absent from the file falls back to the documented minimums.
type ProbeFile struct {
	Release      string          `yaml:"release"`
	Version      string          `yaml:"version"`
	Arch         string          `yaml:"arch,omitempty"`
	Capabilities map[string]bool `yaml:"capabilities"`
}

// ParseProbe reads a probe file strictly: unknown keys and unknown
// capability names are errors.
func ParseProbe(data []byte) (*ProbeFile, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("probe file is %d bytes; the limit is %d", len(data), MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var pf ProbeFile
	if err := dec.Decode(&pf); err != nil {
		return nil, err
	}
	if _, err := features.ParseVersion(pf.Version); err != nil {
		return nil, err
	}
	if _, ok := archTarget[pf.Arch]; pf.Arch != "" && !ok {
		return nil, fmt.Errorf("unknown arch %q", pf.Arch)
	}
	if !safeRelease(pf.Release) {
		return nil, fmt.Errorf("release %q contains characters not allowed in a kernel release", pf.Release)
	}
	for _, c := range sortedKeys(pf.Capabilities) {
		if !features.KnownCapability(features.Capability(c)) {
			return nil, fmt.Errorf("unknown capability %q", c)
		}
	}
	return &pf, nil
}

func safeRelease(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '+' || r == '~') {
			return false
		}
	}
	return len(s) <= 64
}

// Kernel turns the probe into a kernel profile.
func (pf *ProbeFile) Kernel() features.Kernel {
	v, _ := features.ParseVersion(pf.Version)
	k := features.Kernel{Version: v, Release: pf.Release, Probed: map[features.Capability]bool{}}
	for c, ok := range pf.Capabilities {
		k.Probed[features.Capability(c)] = ok
	}
	return k
}

// Marshal renders the probe file deterministically.
func (pf *ProbeFile) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Kernel probe written by dpforge probe; refer to it from a matrix's kernels section.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// yaml.v3 writes map keys sorted, so the file is deterministic.
	if err := enc.Encode(pf); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// ArchTarget maps a Go architecture name to its BPF byte order.
func ArchTarget(arch string) (string, bool) { t, ok := archTarget[arch]; return t, ok }
