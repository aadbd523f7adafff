package main

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// validateBytes is what validate does with one matrix, output included.
func validateBytes(data []byte) int {
	m, diags := config.Parse("inventory.yaml", data, nil)
	p := plan.Make(m, "")
	var out bytes.Buffer
	printDiags(&out, append(diags, p.Diags...), false)
	return out.Len()
}

// BenchmarkValidate10k compares validating a 10,000-node inventory (parse,
// resolve every node, group and print the diagnostics) with a plain yaml.v3
// decode of the same bytes, alternating the two: "x-decode" is the ratio of
// the mean times, "x-decode-best" of the fastest runs, which a loaded
// machine disturbs least. Run with -benchtime 5x or more.
func BenchmarkValidate10k(b *testing.B) {
	data := inventory(10000)
	var decode, validate, bestDecode, bestValidate time.Duration
	for i := 0; i < b.N; i++ {
		// Each side starts from a collected heap: neither pays for the
		// other's garbage.
		runtime.GC()
		start := time.Now()
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		runtime.GC()
		start = time.Now()
		validateBytes(data)
		v := time.Since(start)
		decode, validate = decode+d, validate+v
		if i == 0 || d < bestDecode {
			bestDecode = d
		}
		if i == 0 || v < bestValidate {
			bestValidate = v
		}
	}
	b.ReportMetric(float64(decode.Milliseconds())/float64(b.N), "decode-ms/op")
	b.ReportMetric(float64(validate.Milliseconds())/float64(b.N), "validate-ms/op")
	b.ReportMetric(float64(validate)/float64(decode), "x-decode")
	b.ReportMetric(float64(bestValidate)/float64(bestDecode), "x-decode-best")
}

// The same finding about thousands of nodes is one line.
func TestInventoryOutputIsGrouped(t *testing.T) {
	data := inventory(2000)
	m, diags := config.Parse("inventory.yaml", data, nil)
	p := plan.Make(m, "")
	var out bytes.Buffer
	printDiags(&out, append(diags, p.Diags...), false)
	if lines := bytes.Count(out.Bytes(), []byte("\n")); lines > 20 {
		t.Errorf("%d lines for 2,000 nodes:\n%s", lines, out.Bytes())
	}
	var all bytes.Buffer
	printDiags(&all, append(diags, p.Diags...), true)
	if !bytes.Contains(all.Bytes(), []byte("node-1999")) {
		t.Errorf("-v does not name every node")
	}
}
