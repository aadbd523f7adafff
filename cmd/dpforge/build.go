package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
	"github.com/dpforge/dpforge/generator"
	"github.com/dpforge/dpforge/generator/compile"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/outdir"
	"github.com/dpforge/dpforge/generator/plan"
	"github.com/dpforge/dpforge/generator/verify"
	"github.com/dpforge/dpforge/generator/vm"
)

// targetFlag overrides every kernel profile's byte order.
type targetFlag string

func (f *targetFlag) String() string { return string(*f) }
func (f *targetFlag) Type() string   { return "bpfel|bpfeb" }
func (f *targetFlag) Set(s string) error {
	switch s {
	case features.LittleEndian, features.BigEndian:
		*f = targetFlag(s)
		return nil
	}
	return fmt.Errorf("want bpfel or bpfeb, not %q", s)
}

type buildSummary struct {
	Manifest  string   `json:"manifest"`
	Variants  int      `json:"variants"`
	Nodes     int      `json:"nodes"`
	Compiled  int      `json:"compiled"`
	CacheHits int      `json:"cache_hits"`
	Failed    []string `json:"failed"`
	WallMS    int64    `json:"wall_ms"`
	ClangMS   int64    `json:"clang_ms"`
}

func runBuild(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("build", "build [-f MATRIX] [--out DIR] [-j N] [--target bpfel|bpfeb] [--cilium-version 1.X] [-o text|json]",
		"dpforge build -f cluster.yaml --out out -j 4", stderr)
	matrix := fs.StringP("file", "f", "", "feature matrix (default: the embedded default matrix)")
	outDir := fs.String("out", "out", "output directory (objects, bindings, manifest.json)")
	jobs := fs.IntP("jobs", "j", runtime.NumCPU(), "parallel compiles")
	var target targetFlag
	fs.Var(&target, "target", "byte order for every variant, overriding the kernel profiles' arch")
	out := outputFlag(fs)
	in := addInputFlags(fs, false)
	if code := fs.parse(args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected arguments %q (the matrix is given with -f)", fs.Args())
	}
	if *jobs < 1 {
		return fs.usageError("-j must be at least 1, not %d", *jobs)
	}
	p, diags, err := loadPlan(*matrix, in, string(target))
	if err != nil {
		fmt.Fprintf(stderr, "dpforge build: %v\n", err)
		return exitProblems
	}
	shown := diags
	if !(*out == "text" && isTerminal(stderr)) {
		shown = nil
		for _, d := range diags {
			if d.Severity == diag.Error {
				shown = append(shown, d)
			}
		}
	}
	printDiags(stderr, shown, false)
	if p == nil || diags.HasErrors() {
		fmt.Fprintln(stderr, "dpforge build: the matrix is invalid; nothing built")
		return exitProblems
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := execute(ctx, p, *outDir, *jobs, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge build: %v\n", err)
		return exitProblems
	}
	res, path := r.Build, r.ManifestPath
	sum := buildSummary{Manifest: path, Variants: len(res.Variants), Nodes: len(r.Manifest.Nodes), Compiled: res.Compiled,
		CacheHits: res.CacheHits, Failed: res.Failed, WallMS: res.Wall.Milliseconds(), ClangMS: res.ClangTime.Milliseconds()}
	if sum.Failed == nil {
		sum.Failed = []string{}
	}
	if *out == "json" {
		writeJSON(stdout, sum)
	} else {
		fmt.Fprintf(stdout, "built %s for %s and %s (%d compiled, %d cached) in %s; manifest %s\n",
			plural(sum.Variants, "variant"), plural(sum.Nodes, "node"), plural(len(p.Entries)-sum.Nodes, "matrix cell"),
			sum.Compiled, sum.CacheHits, res.Wall.Round(time.Millisecond), path)
	}
	return exitOK
}

// execute runs the pipeline's execute step on p into outDir, showing
// progress on a terminal. Compile errors are printed in full (%+v); no
// manifest is written then.
func execute(ctx context.Context, p *plan.Plan, outDir string, jobs int, stderr io.Writer) (*generator.Result, error) {
	progress := newProgress(stderr, len(p.Variants))
	res, err := generator.Execute(ctx, p, generator.Options{
		OutDir: outDir, Jobs: jobs, Progress: progress.event,
	})
	progress.done()
	if res != nil && res.Build != nil {
		for _, w := range res.Build.Warnings {
			fmt.Fprintf(stderr, "dpforge: warning: %v\n", w)
		}
	}
	if err != nil && res != nil && res.Manifest == nil {
		for _, e := range errlist.Flatten(err) {
			fmt.Fprintf(stderr, "dpforge: %+v\n", e)
		}
		return nil, fmt.Errorf("build failed; manifest not written")
	}
	return res, err
}

// progress renders build events on a terminal and stays quiet otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	finished int
	cached   int
	lastLine bool
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total}
}

func (p *progress) event(e compile.Event) {
	switch e.Kind {
	case compile.VariantCached:
		p.cached++
		p.finished++
	case compile.VariantCompiled, compile.VariantFailed:
		p.finished++
	default:
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[Kvariants %d/%d (%d cached) %s", p.finished, p.total, p.cached, e.Variant)
		p.lastLine = true
	}
}

func (p *progress) done() {
	if p.lastLine {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("verify", "verify [-o text|json] [--vm SERIES]... [--out DIR]  (or: verify DIR)",
		"sudo dpforge verify --out out\n  sudo dpforge verify --vm 5.10 --vm 6.1 --vm 6.12 --out out   # Debian kernels under qemu", stderr)
	out := outputFlag(fs)
	outDir := fs.String("out", "out", "build output directory to verify (also accepted as the argument)")
	vms := fs.StringArray("vm", nil, "also verify on a Debian kernel series booted under qemu (5.10, 6.1, 6.12, ...); repeatable")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	dir := *outDir
	switch {
	case fs.NArg() > 1:
		return fs.usageError("want at most one output directory, not %q", fs.Args())
	case fs.NArg() == 1 && fs.Changed("out") && fs.Arg(0) != *outDir:
		return fs.usageError("the output directory is given twice (--out %q and %q)", *outDir, fs.Arg(0))
	case fs.NArg() == 1:
		dir = fs.Arg(0)
	}
	// Read one whole build even if a build replaces the directory while
	// verify runs; the counts are then recorded under the directory's lock
	// for the objects that are still there (verify.WriteManifest).
	snap, release, err := outdir.Snapshot(dir)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge verify: %v (run dpforge build first)\n", err)
		return exitProblems
	}
	defer release()
	// Messages name the directory the user gave, not the snapshot's path.
	stderr = replacingWriter{w: stderr, old: snap, new: dir}
	path := filepath.Join(dir, "manifest.json")
	m, err := manifest.Load(filepath.Join(snap, "manifest.json"))
	if err != nil {
		fmt.Fprintf(stderr, "dpforge verify: %v (run dpforge build first)\n", err)
		return exitProblems
	}
	if len(*vms) > 0 {
		return verifyVMs(snap, path, m, *vms, stdout, stderr)
	}
	rep, err := verify.Verify(context.Background(), snap, m, verify.Options{ManifestPath: path})
	if errors.Is(err, loader.ErrNotPermitted) {
		fmt.Fprintf(stderr, "dpforge verify: %v\n", err)
		return exitProblems
	}
	failed := false
	if err != nil {
		failed = true
		for _, e := range errlist.Flatten(err) {
			fmt.Fprintf(stderr, "dpforge verify: %+v\n", e)
		}
	}
	if rep == nil {
		return exitProblems
	}
	if *out == "json" {
		writeJSON(stdout, rep)
	} else {
		for _, v := range rep.Variants {
			fmt.Fprintf(stdout, "variant %s on %s:", v.ID, rep.Release)
			for _, pr := range v.Programs {
				fmt.Fprintf(stdout, " %s=%d", pr.Name, pr.Instructions)
			}
			fmt.Fprintln(stdout)
		}
	}
	if failed {
		return exitProblems
	}
	return exitOK
}

// verifyVMs verifies every variant on Debian kernels booted under qemu and
// records the counts under each guest's release in the manifest.
func verifyVMs(dir, path string, m *manifest.Manifest, series []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := vm.EnsureTools(ctx); err != nil {
		fmt.Fprintf(stderr, "dpforge verify: %v\n", err)
		return exitProblems
	}
	objects, err := vm.ManifestObjects(dir, m)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge verify: %v\n", err)
		return exitProblems
	}
	failed := false
	for _, s := range series {
		k, err := vm.Fetch(ctx, s, "")
		if err != nil {
			fmt.Fprintf(stderr, "dpforge verify: kernel %s: %v\n", s, err)
			failed = true
			continue
		}
		rep, err := vm.Verify(ctx, k, objects, vm.Options{})
		if err != nil {
			failed = true
			for _, e := range errlist.Flatten(err) {
				fmt.Fprintf(stderr, "dpforge verify: %+v\n", e)
			}
		}
		if rep == nil {
			continue
		}
		n := rep.Record(m)
		fmt.Fprintf(stdout, "kernel %s (%s): %d programs verified in %s\n", s, rep.Release, n, rep.Total.Round(time.Millisecond))
	}
	if err := verify.WriteManifest(path, m); err != nil {
		fmt.Fprintf(stderr, "dpforge verify: %v\n", err)
		return exitProblems
	}
	if failed {
		return exitProblems
	}
	return exitOK
}

// replacingWriter replaces old by new in every Write (each message is
// written whole by one Fprintf).
type replacingWriter struct {
	w        io.Writer
	old, new string
}

func (r replacingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, strings.ReplaceAll(string(p), r.old, r.new)); err != nil {
		return 0, err
	}
	return len(p), nil
}
