package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/features"
)

// corpusCase is one expectation of testdata/configmaps/README.md: a file
// judged as a release on a kernel, and whether the agent starts.
type corpusCase struct {
	file, release, kernel string
	starts                bool
	reason                string // the agent's words when it refuses
	manifest              bool   // the release comes from the agent image
}

var (
	mainRow  = regexp.MustCompile(`^\| (\S+\.yaml) \| [^|]+ \| (1\.\d+) \| (\S+)[^|]*\| ([^|]+) \| ([^|]*) \|`)
	crossRow = regexp.MustCompile(`^\| ([^|]+\.yaml) \| ([^|]+) \| ([^|]+) \| ([^|]*) \|`)
	quoted   = regexp.MustCompile(`"((?:[^"\\]|\\.)+)"`)
	sameAs   = regexp.MustCompile(`^\s*same error and source as (\S+?)[.,;]`)
)

// readCorpus reads both tables of the corpus README: each file under its own
// release, and the same files under other releases.
func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "configmaps")
	f, err := os.Open(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusCase
	kernels := map[string]string{}
	reasons := map[string]string{}
	cross := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## The same files under other releases") {
			cross = true
		}
		if !cross {
			if m := mainRow.FindStringSubmatch(line); m != nil {
				c := corpusCase{file: m[1], release: m[2], kernel: m[3], starts: strings.HasPrefix(strings.TrimSpace(m[4]), "yes"),
					manifest: strings.Contains(m[1], "manifest")}
				if !c.starts {
					c.reason = reason(m[5])
					// "same error and source as kops-1.15-eni": that row's words.
					if sm := sameAs.FindStringSubmatch(m[5]); sm != nil {
						c.reason = reasons[sm[1]+".yaml"]
					}
					reasons[c.file] = c.reason
				}
				kernels[c.file] = c.kernel
				out = append(out, c)
			}
			continue
		}
		m := crossRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		starts := strings.HasPrefix(strings.TrimSpace(m[3]), "yes")
		for _, file := range strings.Split(m[1], ",") {
			file = strings.Trim(strings.TrimSpace(file), "`")
			for _, rel := range releasesIn(t, m[2]) {
				c := corpusCase{file: file, release: rel, kernel: kernels[file], starts: starts}
				if !starts {
					c.reason = reason(m[4])
				}
				out = append(out, c)
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("read only %d expectations from the corpus README", len(out))
	}
	return out
}

// reason is the agent's message quoted in a "why" cell, without the
// daemon's prefix.
func reason(why string) string {
	m := quoted.FindStringSubmatch(why)
	if m == nil {
		return ""
	}
	r := strings.ReplaceAll(m[1], `\"`, `"`)
	r = strings.TrimPrefix(r, "daemon creation failed: ")
	r = strings.TrimPrefix(r, "unable to initialize kube-proxy replacement options: ")
	return r
}

// releasesIn expands "1.12–1.14", "1.19, 1.20" and "1.16 and later".
func releasesIn(t *testing.T, s string) []string {
	s = strings.TrimSpace(s)
	var out []string
	add := func(from, to features.Release) {
		for _, r := range features.Releases {
			if r.AtLeast(from) && to.AtLeast(r) {
				out = append(out, r.String())
			}
		}
	}
	parse := func(x string) features.Release {
		r, err := features.ParseRelease(strings.TrimSpace(x))
		if err != nil {
			t.Fatalf("corpus README: %v", err)
		}
		return r
	}
	switch {
	case strings.HasSuffix(s, "and later"):
		add(parse(strings.TrimSuffix(s, "and later")), features.Newest)
	case strings.Contains(s, "–"):
		a, b, _ := strings.Cut(s, "–")
		add(parse(a), parse(b))
	default:
		for _, x := range strings.Split(s, ",") {
			r := parse(x)
			add(r, r)
		}
	}
	return out
}

// TestCorpusOutcomes judges every real ConfigMap of testdata/configmaps as
// the README says its release's agent does: exit 0 where the agent starts,
// exit 1 with the agent's reason where it refuses; also under the other
// releases the README lists.
func TestCorpusOutcomes(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "configmaps")
	for _, c := range readCorpus(t) {
		t.Run(c.file+"@"+c.release, func(t *testing.T) {
			args := []string{"validate", "--kernel", c.kernel}
			if !c.manifest {
				args = append(args, "--cilium-version", c.release)
			}
			args = append(args, filepath.Join(dir, c.file))
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			want := exitOK
			if !c.starts {
				want = exitProblems
			}
			if code != want {
				t.Fatalf("exit %d, want %d:\n%s%s", code, want, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "judged as Cilium "+c.release) {
				t.Errorf("not judged as Cilium %s:\n%s", c.release, stdout.String())
			}
			if c.reason == "" {
				return
			}
			found := false
			for _, l := range strings.Split(stdout.String(), "\n") {
				found = found || strings.Contains(l, ": error: ") && strings.Contains(l, c.reason)
			}
			if !found {
				t.Errorf("no error says %q:\n%s", c.reason, stdout.String())
			}
		})
	}
}
