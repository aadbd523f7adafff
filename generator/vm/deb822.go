package vm

import (
	"bufio"
	"io"
	"strings"
)

// paragraph is one stanza of a deb822 file (apt's .sources files, the output
// of apt-cache show): field names, lower-cased, to values. A multi-line
// value keeps its continuation lines, joined with "\n" and trimmed.
type paragraph map[string]string

// parseDeb822 splits deb822 text into paragraphs. Comment lines ("#") are
// skipped; a blank line ends a paragraph.
func parseDeb822(r io.Reader) ([]paragraph, error) {
	var (
		out  []paragraph
		cur  paragraph
		last string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			if cur != nil {
				out = append(out, cur)
			}
			cur, last = nil, ""
		case line[0] == ' ' || line[0] == '\t':
			if cur != nil && last != "" {
				cont := strings.TrimSpace(line)
				if cont == "." { // an empty line inside a value
					cont = ""
				}
				if cur[last] == "" {
					cur[last] = cont
				} else {
					cur[last] += "\n" + cont
				}
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue // not a field; apt would complain, we skip
			}
			if cur == nil {
				cur = paragraph{}
			}
			last = strings.ToLower(strings.TrimSpace(name))
			cur[last] = strings.TrimSpace(value)
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out, sc.Err()
}

// words returns a whitespace-separated field as a list.
func (p paragraph) words(field string) []string { return strings.Fields(p[field]) }
