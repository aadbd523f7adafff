package features

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// corpusDir holds real cilium-config ConfigMaps written by other projects.
const corpusDir = "../testdata/configmaps"

// corpusUnknownKeys are keys in the corpus that no Cilium release from 1.12
// on reads, with why the project wrote them. Any other key must be in the
// registry, so a key the registry misses fails this test.
var corpusUnknownKeys = map[string]string{
	"bpf-algorithm-annotation":   "typo of bpf-lb-algorithm-annotation (azure-container-networking)",
	"disable-embedded-dns-proxy": "AKS build only, not upstream Cilium",
	"tofqdns-server-port":        "AKS build only, not upstream Cilium",
	"masquerade":                 "pre-1.12 key (minikube, Typhoon)",
	"wait-bpf-mount":             "pre-1.12 key (minikube)",
	"tofqdns-enable-poller":      "pre-1.12 key (kops)",
}

var (
	releaseHeaderRe = regexp.MustCompile(`(?m)^# Cilium release: (1\.[0-9]+) `)
	docSepRe        = regexp.MustCompile(`(?m)^---\s*$`)
	configMapKindRe = regexp.MustCompile(`(?m)^kind: ConfigMap\s*$`)
	ciliumConfigRe  = regexp.MustCompile(`(?m)^  name: (cilium-config|cilium)\s*$`)
	dataKeyRe       = regexp.MustCompile(`^  ([a-z0-9][a-z0-9.-]*):`)
)

// corpusConfigMapKeys returns the data keys of the cilium-config ConfigMap in
// a (possibly multi-document) manifest. The corpus writes data in block
// style, one key a line at two spaces, which is all this reads.
func corpusConfigMapKeys(text string) []string {
	for _, doc := range docSepRe.Split(text, -1) {
		if !configMapKindRe.MatchString(doc) ||
			!ciliumConfigRe.MatchString(doc) {
			continue
		}
		var keys []string
		inData := false
		for _, line := range strings.Split(doc, "\n") {
			switch {
			case line == "data:":
				inData = true
			case inData && line != "" && !strings.HasPrefix(line, " "):
				inData = false
			case inData:
				if m := dataKeyRe.FindStringSubmatch(line); m != nil {
					keys = append(keys, m[1])
				}
			}
		}
		return keys
	}
	return nil
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("corpus has %d files, want at least 15", len(files))
	}
	readme, err := os.ReadFile(filepath.Join(corpusDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	releases := map[string]bool{}
	usedUnknown := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text, name := string(b), filepath.Base(f)
		if !strings.HasPrefix(text, "# Origin: ") || !strings.Contains(text, "\n#   https://github.com/") {
			t.Errorf("%s: no origin header", name)
		}
		m := releaseHeaderRe.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s: no \"# Cilium release:\" header", name)
			continue
		}
		rel := m[1]
		releases[rel] = true
		if !strings.Contains(string(readme), "| "+name+" |") {
			t.Errorf("%s: not in the README's expected-outcome table", name)
		}
		keys := corpusConfigMapKeys(text)
		if len(keys) < 20 {
			t.Errorf("%s: %d ConfigMap keys read, want a real config (>= 20)", name, len(keys))
		}
		for _, k := range keys {
			if _, ok := LookupOption(k); ok {
				continue
			}
			if _, ok := corpusUnknownKeys[k]; ok {
				usedUnknown[k] = true
				continue
			}
			t.Errorf("%s (Cilium %s): key %q is not in the registry", name, rel, k)
		}
	}
	if len(releases) < 5 {
		t.Errorf("corpus covers %d Cilium releases, want at least 5", len(releases))
	}
	for k := range corpusUnknownKeys {
		if _, ok := LookupOption(k); ok {
			t.Errorf("%q is in the registry now: drop it from corpusUnknownKeys", k)
		}
		if !usedUnknown[k] {
			t.Errorf("%q is in no corpus file: drop it from corpusUnknownKeys", k)
		}
	}
	// The expected outcomes name refusals only for releases 1.15 to 1.18,
	// the ones in which BPF masquerade without NodePort is fatal.
	for _, f := range []string{"kops-1.15-eni.yaml", "kops-1.16-eni.yaml", "kops-1.18-eni-manifest.yaml"} {
		if !slices.ContainsFunc(strings.Split(string(readme), "\n"), func(l string) bool {
			return strings.HasPrefix(l, "| "+f+" |") && strings.Contains(l, "| **no** |")
		}) {
			t.Errorf("README does not record that the agent refuses %s", f)
		}
	}
}
