package compile

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// sourceFile is one file of the datapath source tree.
type sourceFile struct {
	path string // slash-separated, relative to the tree root
	data []byte
}

// sourceTree is the datapath source tree, read once per Build.
type sourceTree struct {
	main       string
	files      []sourceFile // sorted by path (fs.WalkDir's lexical order)
	hasInclude bool
	digest     [sha256.Size]byte
}

// readSources reads every regular file of fsys. It rejects a tree that has a
// dp_variant.h of its own: a quoted #include looks in the including file's
// directory first, so that file would silently shadow the variant header.
func readSources(fsys fs.FS, main string) (*sourceTree, error) {
	if fsys == nil {
		return nil, fmt.Errorf("reading sources: Options.Source is nil")
	}
	if main == "" || !fs.ValidPath(main) {
		return nil, fmt.Errorf("reading sources: invalid main file %q", main)
	}
	t := &sourceTree{main: main}
	h := sha256.New()
	fmt.Fprintf(h, "main %q\n", main)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == "include" {
				t.hasInclude = true
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		if path.Base(p) == headerName {
			return fmt.Errorf("%s: the source tree must not contain %s, it would shadow the variant's header", p, headerName)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t.files = append(t.files, sourceFile{path: p, data: data})
		// Length-prefixed, so no two trees hash alike.
		fmt.Fprintf(h, "file %q %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading sources: %w", err)
	}
	found := false
	for _, f := range t.files {
		found = found || f.path == main
	}
	if !found {
		return nil, fmt.Errorf("reading sources: main file %q not in the source tree", main)
	}
	h.Sum(t.digest[:0])
	return t, nil
}

// materialize writes the tree below dir so clang can read it.
func (t *sourceTree) materialize(dir string) error {
	for _, f := range t.files {
		dst := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// parseDepFile returns the prerequisites of the single rule of a make-style
// dependency file written by clang -MD: backslash-newline continues a line,
// "\ " is a space inside a name and "$$" is a dollar sign.
func parseDepFile(data []byte) ([]string, error) {
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	_, rest, ok := strings.Cut(text, ": ")
	if !ok {
		if _, r, ok2 := strings.Cut(text, ":\n"); ok2 {
			rest = r
		} else {
			return nil, fmt.Errorf("no rule in dependency file")
		}
	}
	var deps []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			deps = append(deps, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '\\' && i+1 < len(rest) && (rest[i+1] == ' ' || rest[i+1] == '#'):
			cur.WriteByte(rest[i+1])
			i++
		case c == '$' && i+1 < len(rest) && rest[i+1] == '$':
			cur.WriteByte('$')
			i++
		case c == ' ' || c == '\t' || c == '\r':
			flush()
		case c == '\n':
			// A second rule (e.g. -MP phony targets) ends the list.
			flush()
			return deps, nil
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return deps, nil
}

// systemDeps keeps the dependencies outside the compile directory: the
// toolchain and system headers, which are not part of the source tree.
func systemDeps(deps []string, compileDir string) []string {
	var out []string
	seen := map[string]bool{}
	prefix := filepath.Clean(compileDir) + string(filepath.Separator)
	for _, d := range deps {
		if !filepath.IsAbs(d) {
			continue // relative to src/: the source tree or the variant header
		}
		d = filepath.Clean(d)
		if strings.HasPrefix(d, prefix) || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
