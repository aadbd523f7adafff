package compile

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/cmd/bpf2go/gen"

	"github.com/dpforge/dpforge/generator/bindings"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/env"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/outdir"
)

// Job is one variant to build.
type Job struct {
	// ID is the variant's stable short id, [a-z0-9-]+. It names the object
	// (objects/<id>.o) and the bindings package (v_<id>).
	ID string
	// Header is the content of dp_variant.h: the variant's compile-time
	// #defines.
	Header []byte
	// CPU is the BPF ISA level: "v1", "v2" or "v3" (clang -mcpu).
	CPU string
	// Target is the byte order: "bpfel" or "bpfeb" (clang -target).
	Target string
}

// Options configure Build. Zero values mean the documented defaults.
type Options struct {
	// Source is the datapath source tree: MainFile plus an include/
	// directory. It must not contain a dp_variant.h.
	Source fs.FS
	// MainFile is the path of the C file to compile, within Source.
	MainFile string
	// OutDir, if set, receives objects/ and bindings/ (see the package
	// doc), as one whole (generator/outdir). If empty, Build writes nothing
	// and the caller writes Result.Files.
	OutDir string
	// CacheDir is the cache; default cache.DefaultDir().
	CacheDir string
	// WorkDir is where the temporary compile directories are created;
	// default os.TempDir(). The objects do not depend on it.
	WorkDir string
	// Jobs is the number of parallel compiles; default runtime.NumCPU().
	Jobs int
	// CC is the compiler command, split on spaces ("ccache clang-19"
	// works); default env.Compiler() ($DPFORGE_CC, else clang-19).
	CC string
	// Strip strips DWARF from the object; default env.Strip()
	// ($DPFORGE_STRIP, else llvm-strip-19).
	Strip string
	// SystemIncludes are extra include directories searched after the
	// source tree's; default {"/usr/include/x86_64-linux-gnu"}.
	SystemIncludes []string
	// GoImportPath is the module path of the generated bindings; default
	// "dpforge.local/datapath".
	GoImportPath string
	// VerifyCache compiles even when the cache has an entry and fails with
	// a NondeterministicError if the result differs (like GODEBUG=gocacheverify=1).
	VerifyCache bool
	// Progress, if set, is called for every Event, never concurrently.
	Progress func(Event)
}

// EventKind says what happened to a variant.
type EventKind int

const (
	// VariantStarted: the variant is being looked up or compiled.
	VariantStarted EventKind = iota + 1
	// VariantCached: the object came from the cache.
	VariantCached
	// VariantCompiled: clang compiled the object.
	VariantCompiled
	// VariantFailed: see Event.Err.
	VariantFailed
)

func (k EventKind) String() string {
	switch k {
	case VariantStarted:
		return "started"
	case VariantCached:
		return "cached"
	case VariantCompiled:
		return "compiled"
	case VariantFailed:
		return "failed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports progress to Options.Progress.
type Event struct {
	Kind    EventKind
	Variant string
	// Done counts variants finished (cached, compiled or failed) so far,
	// Total all variants of the Build.
	Done, Total int
	// Reason says why a compiled variant was not a cache hit.
	Reason string
	// Duration is the compile time of a compiled variant.
	Duration time.Duration
	Err      error
}

// VariantResult describes one built variant.
type VariantResult struct {
	ID, CPU, Target string
	// Key is the cache key (hex sha256).
	Key string
	// ObjectPath is the object's path relative to OutDir, slash-separated.
	ObjectPath string
	// Package is the import path of the variant's bindings.
	Package string
	SHA256  string
	Size    int64

	// API holds the variant's program, map and variable names.
	bindings.API

	// CacheHit is true if the object came from the cache.
	CacheHit bool
	// MissReason says why it did not ("not cached", "corrupt cache
	// entry (object hash mismatch)", ...); empty for a hit.
	MissReason string
	// CompileTime is the time clang and strip took; zero for a hit.
	CompileTime time.Duration
}

// Result is the outcome of Build.
type Result struct {
	// Variants that were built, sorted by ID.
	Variants []VariantResult
	// Failed are the ids of the variants that were not built, sorted.
	Failed    []string
	Toolchain Toolchain
	// Compiled counts variants compiled by clang in this Build, CacheHits
	// variants served from the cache.
	Compiled, CacheHits int
	// Wall is Build's duration; ClangTime the sum of all compile times.
	Wall, ClangTime time.Duration
	// Files are the outputs, objects/ and bindings/, by slash path relative
	// to the output directory; nil unless every variant was built.
	Files map[string][]byte
	// Warnings are problems that cost something other than the build, such
	// as an object that could not be stored in a full cache.
	Warnings []error
}

var idPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// workPrefix names a Build's work directory in Options.WorkDir; a Build
// holds it (cache.MkdirLive) and removes those of dead Builds.
const workPrefix = "dpforge-build-"

// Build compiles every job (once per distinct cache key, in parallel, using
// the cache), checks that all variants have the same API and returns the
// objects and bindings in Result.Files, also writing them to opts.OutDir if
// set.
//
// A variant that fails to compile does not stop the others; Build returns
// all problems joined (errlist.Flatten lists them) together with the Result
// of what was built, and then writes nothing: OutDir keeps the previous
// build, whole. Errors that stop the whole build (bad options, missing
// compiler) return a nil Result.
//
// Cancelling ctx kills running compiles and stops those not started; OutDir
// is then left as it was.
func Build(ctx context.Context, jobs []Job, opts Options) (*Result, error) {
	start := time.Now()
	b, err := newBuilder(ctx, jobs, opts)
	if err != nil {
		return nil, err
	}
	defer b.work.Remove()

	units := b.plan()
	b.run(ctx, units)

	res := &Result{Toolchain: b.tc.Toolchain, Warnings: b.warnings}
	var errs []error
	var entries []bindings.RegistryEntry
	typesOf := map[string][]byte{}
	outputs := map[string][]byte{}
	for _, u := range units {
		for _, j := range u.jobs {
			if u.err != nil {
				res.Failed = append(res.Failed, j.ID)
				continue
			}
			v := u.result
			v.ID, v.CPU, v.Target = j.ID, j.CPU, j.Target
			v.ObjectPath = objectsDir + "/" + j.ID + ".o"
			v.Package = b.opts.GoImportPath + "/" + bindings.PackageName(j.ID)
			res.Variants = append(res.Variants, v)
			outputs[v.ObjectPath] = u.obj
			for name, data := range u.bindings[j.ID] {
				outputs[bindingsDir+"/"+name] = data
			}
			entries = append(entries, bindings.RegistryEntry{ID: j.ID, Suffix: u.target.Suffix(), Arches: u.arches})
			typesOf[j.ID] = u.types
		}
		if u.err != nil {
			errs = append(errs, u.errs...)
		}
		if u.warning != nil {
			res.Warnings = append(res.Warnings, u.warning)
		}
	}
	slices.SortFunc(res.Variants, func(a, b VariantResult) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(res.Failed)
	for _, v := range res.Variants {
		if v.CacheHit {
			res.CacheHits++
		} else {
			res.Compiled++
		}
		res.ClangTime += v.CompileTime
	}
	ids := make([]string, len(res.Variants))
	apis := make([]*bindings.API, len(res.Variants))
	types := make([][]byte, len(res.Variants))
	for i := range res.Variants {
		ids[i], apis[i], types[i] = res.Variants[i].ID, &res.Variants[i].API, typesOf[res.Variants[i].ID]
	}
	errs = append(errs, bindings.Check(ids, apis, types)...)

	if err := ctx.Err(); err != nil {
		// Don't replace a good output directory with a partial one.
		res.Wall = time.Since(start)
		if !slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, err) }) {
			errs = append(errs, err)
		}
		return res, errlist.Join(errs...)
	}
	var refTypes []byte
	if len(types) > 0 {
		refTypes = types[0]
	}
	reg, err := bindings.Registry(b.opts.GoImportPath, entries, refTypes)
	if err != nil {
		return res, errlist.Join(append(errs, err)...)
	}
	for name, data := range reg {
		outputs[bindingsDir+"/"+name] = data
	}
	res.Wall = time.Since(start)
	if len(errs) > 0 {
		// A build with failed variants writes nothing: the output
		// directory keeps the previous complete build.
		return res, errlist.Join(errs...)
	}
	res.Files = outputs
	if b.opts.OutDir != "" {
		err := outdir.Replace(ctx, b.opts.OutDir, func(string) (outdir.Files, error) { return outputs, nil })
		res.Wall = time.Since(start)
		return res, err
	}
	return res, nil
}

// builder holds what a Build resolved once.
type builder struct {
	opts  Options
	jobs  []Job
	src   *sourceTree
	tc    *toolchain
	cache *cache.Cache
	files cache.FileHasher
	work  *cache.LiveDir
	// warnings found before any unit ran (an unusable cache directory).
	warnings []error

	selfOnce sync.Once
	self     string // selfID

	mu       sync.Mutex // serializes Progress
	done     int
	progress func(Event)
}

func newBuilder(ctx context.Context, jobs []Job, opts Options) (*builder, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var errs []error
	for _, j := range jobs {
		switch {
		case !idPattern.MatchString(j.ID):
			errs = append(errs, fmt.Errorf("job %q: id must match %s", j.ID, idPattern))
		case seen[j.ID]:
			errs = append(errs, fmt.Errorf("job %q: duplicate id", j.ID))
		}
		seen[j.ID] = true
		switch j.CPU {
		case "v1", "v2", "v3":
		default:
			errs = append(errs, fmt.Errorf("job %q: cpu %q, want v1, v2 or v3", j.ID, j.CPU))
		}
		switch j.Target {
		case "bpfel", "bpfeb":
		default:
			errs = append(errs, fmt.Errorf("job %q: target %q, want bpfel or bpfeb", j.ID, j.Target))
		}
	}
	if err := errlist.Join(errs...); err != nil {
		return nil, err
	}
	src, err := readSources(opts.Source, opts.MainFile)
	if err != nil {
		return nil, err
	}
	var warnings []error
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		// Without a cache every variant compiles; the build still works.
		warnings = append(warnings, fmt.Errorf("nothing cached: creating cache directory: %w", err))
	}
	objects := cache.New(opts.CacheDir)
	tc, err := probeToolchain(ctx, objects, strings.Fields(opts.CC), strings.Fields(opts.Strip))
	if err != nil {
		return nil, err
	}
	tc.Flags = commonFlags(src.hasInclude, opts.SystemIncludes)
	if opts.WorkDir != "" {
		if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating work directory: %w", err)
		}
	}
	// Compile directories of builds killed before they could clean up.
	cache.RemoveDead(opts.WorkDir, workPrefix)
	work, err := cache.MkdirLive(opts.WorkDir, workPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	sorted := slices.Clone(jobs)
	slices.SortFunc(sorted, func(a, b Job) int { return strings.Compare(a.ID, b.ID) })
	return &builder{
		opts:     opts,
		jobs:     sorted,
		src:      src,
		tc:       tc,
		cache:    objects,
		work:     work,
		warnings: warnings,
		progress: opts.Progress,
	}, nil
}

func withDefaults(opts Options) (Options, error) {
	if opts.CacheDir == "" {
		dir, err := cache.DefaultDir()
		if err != nil {
			return opts, err
		}
		opts.CacheDir = dir
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	opts.CC = cmp.Or(opts.CC, env.Compiler())
	opts.Strip = cmp.Or(opts.Strip, env.Strip())
	if opts.SystemIncludes == nil {
		opts.SystemIncludes = []string{"/usr/include/x86_64-linux-gnu"}
	}
	if opts.GoImportPath == "" {
		opts.GoImportPath = bindings.DefaultImportPath
	}
	if !bindings.ValidImportPath(opts.GoImportPath) {
		return opts, fmt.Errorf("options: invalid Go import path %q", opts.GoImportPath)
	}
	return opts, nil
}

// unit is one distinct compile: the jobs that share a cache key (normally
// exactly one).
type unit struct {
	key    string
	jobs   []Job
	flags  []string
	target gen.Target
	arches gen.GoArches

	// Filled by process.
	obj      []byte
	result   VariantResult
	bindings map[string]map[string][]byte // job id → files of its package
	warning  error                        // a problem that did not stop the unit
	types    []byte                       // the registry's types.go
	err      error                        // first error
	errs     []error                      // one per job
}

// plan computes the cache key of every job and groups jobs by key.
func (b *builder) plan() []*unit {
	byKey := map[string]*unit{}
	var units []*unit
	for _, j := range b.jobs {
		flags := compileFlags(j.CPU, b.src.hasInclude, b.opts.SystemIncludes)
		key := b.key(j, flags)
		if u, ok := byKey[key]; ok {
			u.jobs = append(u.jobs, j)
			continue
		}
		// Validated in newBuilder.
		target, arches, _ := gen.FindTarget(j.Target)
		u := &unit{key: key, jobs: []Job{j}, flags: flags, target: target, arches: arches}
		byKey[key] = u
		units = append(units, u)
	}
	return units
}

// key is the hash of the complete description of one compile. Every field
// is written with its name and length so that no two descriptions collide.
// The job's id is not part of it: two ids with the same inputs share an
// entry.
func (b *builder) key(j Job, flags []string) string {
	h := sha256.New()
	field := func(name string, value []byte) {
		fmt.Fprintf(h, "%s %d\n", name, len(value))
		h.Write(value)
		h.Write([]byte{'\n'})
	}
	field("format", fmt.Appendf(nil, "dpforge-build-cache %d", cache.Format))
	field("cc", []byte(strings.Join(b.tc.CC, " ")))
	field("cc-version", []byte(b.tc.ccID))
	field("strip", []byte(strings.Join(b.tc.Strip, " ")))
	field("strip-version", []byte(b.tc.stripID))
	field("target", []byte(j.Target))
	field("cpu", []byte(j.CPU))
	for _, f := range clangArgs(flags, j.Target, b.src.main, objectRel) {
		field("arg", []byte(f))
	}
	field("sources", b.src.digest[:])
	field("header", j.Header)
	return hex.EncodeToString(h.Sum(nil))
}

// run processes the units with a pool of opts.Jobs workers.
func (b *builder) run(ctx context.Context, units []*unit) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.opts.Jobs, max(len(units), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b.process(ctx, i, units[i])
			}
		}()
	}
	for i := range units {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (b *builder) emit(e Event, finished int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += finished
	if b.progress == nil {
		return
	}
	e.Done, e.Total = b.done, len(b.jobs)
	b.progress(e)
}

// process gets one unit's object from the cache or the compiler and
// inspects it.
func (b *builder) process(ctx context.Context, index int, u *unit) {
	for _, j := range u.jobs {
		b.emit(Event{Kind: VariantStarted, Variant: j.ID}, 0)
	}
	fail := func(err error, perJob func(Job) error) {
		u.err = err
		for _, j := range u.jobs {
			jerr := err
			if perJob != nil {
				jerr = perJob(j)
			}
			u.errs = append(u.errs, jerr)
			b.emit(Event{Kind: VariantFailed, Variant: j.ID, Err: jerr}, 1)
		}
	}
	if err := ctx.Err(); err != nil {
		fail(err, func(j Job) error { return fmt.Errorf("variant %q: %w", j.ID, err) })
		return
	}

	obj, miss := b.cache.Get(u.key, &b.files)
	hit := obj != nil
	var compileTime time.Duration
	if !hit || b.opts.VerifyCache {
		fresh, deps, took, stderr, err := b.compile(ctx, filepath.Join(b.work.Path, fmt.Sprint(index)), u)
		compileTime = took
		if err != nil {
			fail(err, func(j Job) error { return &CompileError{Variant: j.ID, Stderr: stderr, Err: err} })
			return
		}
		switch {
		case hit && cache.SHA256Hex(fresh) != cache.SHA256Hex(obj):
			err := &NondeterministicError{Variant: u.jobs[0].ID, Key: u.key, Cached: cache.SHA256Hex(obj), Rebuilt: cache.SHA256Hex(fresh)}
			fail(err, nil)
			return
		case !hit:
			if err := b.cache.Put(u.key, fresh, deps); err != nil {
				// A full or read-only cache costs caching, not the build.
				u.warning = fmt.Errorf("variant %q: not cached: %w", u.jobs[0].ID, err)
			}
			obj = fresh
		}
	}

	a, byJob, types, err := b.derive(u, obj)
	if err != nil {
		fail(err, nil)
		return
	}
	u.obj, u.bindings, u.types = obj, byJob, types
	u.result = VariantResult{
		Key:         u.key,
		SHA256:      cache.SHA256Hex(obj),
		Size:        int64(len(obj)),
		API:         *a,
		CacheHit:    hit,
		MissReason:  miss,
		CompileTime: compileTime,
	}
	for _, j := range u.jobs {
		if hit {
			b.emit(Event{Kind: VariantCached, Variant: j.ID}, 1)
		} else {
			b.emit(Event{Kind: VariantCompiled, Variant: j.ID, Reason: miss, Duration: compileTime}, 1)
		}
	}
}

// compile runs clang and strip in dir (see flags.go for the layout) and
// returns the stripped object, the system headers it read, the time clang
// and strip took and their output.
func (b *builder) compile(ctx context.Context, dir string, u *unit) (obj []byte, deps []cache.Dep, took time.Duration, stderr string, err error) {
	srcDir := filepath.Join(dir, srcDirName)
	outPath := filepath.Join(dir, objectRel)
	setup := func() error {
		for _, d := range []string{srcDir, filepath.Join(dir, variantDirName), filepath.Dir(outPath)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := b.src.materialize(srcDir); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, variantDirName, headerName), u.jobs[0].Header, 0o644)
	}
	if err := setup(); err != nil {
		return nil, nil, 0, "", fmt.Errorf("preparing compile directory: %w", err)
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	objRel := filepath.Join("..", objectRel)
	out, err := runTool(ctx, b.tc.CC, clangArgs(u.flags, u.jobs[0].Target, filepath.FromSlash(b.src.main), objRel), srcDir)
	if err == nil {
		// -g drops DWARF but keeps .BTF and .BTF.ext.
		var sout string
		sout, err = runTool(ctx, b.tc.Strip, []string{"-g", objRel}, srcDir)
		out += sout
	}
	took = time.Since(start)
	// Paths in diagnostics relative to the source tree, not the temporary
	// directory.
	stderr = strings.ReplaceAll(out, srcDir+string(filepath.Separator), "")
	stderr = strings.ReplaceAll(stderr, dir+string(filepath.Separator), "")
	if err != nil {
		return nil, nil, took, stderr, err
	}
	obj, err = os.ReadFile(outPath)
	if err != nil {
		return nil, nil, took, stderr, fmt.Errorf("reading object: %w", err)
	}
	depData, err := os.ReadFile(filepath.Join(dir, "deps.d"))
	if err != nil {
		return nil, nil, took, stderr, fmt.Errorf("reading dependencies: %w", err)
	}
	all, err := parseDepFile(depData)
	if err != nil {
		return nil, nil, took, stderr, fmt.Errorf("reading dependencies: %w", err)
	}
	for _, p := range systemDeps(all, dir) {
		sum, err := b.files.Sum(p)
		if err != nil {
			return nil, nil, took, stderr, fmt.Errorf("hashing dependency: %w", err)
		}
		deps = append(deps, cache.Dep{Path: p, SHA256: sum})
	}
	return obj, deps, took, stderr, nil
}
