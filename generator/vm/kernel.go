package vm

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/cache"
)

// Kernel is a Debian kernel ready to boot: its decompressed ELF vmlinux and
// its configuration, in the cache.
type Kernel struct {
	// Series is what Fetch was asked for, e.g. "6.1".
	Series string `json:"series"`
	// Release is the kernel's uname -r, e.g. "6.1.0-56-amd64"; verifier
	// counts are recorded under it.
	Release string `json:"release"`
	// Version is the Debian package version, e.g. "6.1.180-1".
	Version string `json:"version"`
	// Package is the package the image came from, ConfigPackage the one
	// the configuration came from (the same one up to 6.18).
	Package       string `json:"package"`
	ConfigPackage string `json:"config_package,omitempty"`
	// Compression is the bzImage payload's format ("xz", "zstd", "lz4").
	Compression string `json:"compression"`
	// Vmlinux is the path of the ELF kernel qemu boots.
	Vmlinux string `json:"-"`
	// Config is the path of the kernel configuration, or "" if the
	// packages had none.
	Config string `json:"-"`

	// dir is the cache entry; modules what it keeps of the modules.
	dir     string
	modules *modulesRecord
}

// kernelFormat versions the cache entry layout; bump it when it changes
// so that older readers cannot use the new entries. Adding the modules kept
// it: older readers ignore them, and an entry without them is fetched again
// (see loadKernelEntry).
const kernelFormat = 1

// kernelRecord is <cacheDir>/kernels/<release>/kernel.json.
type kernelRecord struct {
	Format int `json:"format"`
	Kernel
	VmlinuxSHA256 string `json:"vmlinux_sha256"`
	VmlinuxSize   int64  `json:"vmlinux_size"`
	HasConfig     bool   `json:"has_config"`
	// Modules is nil in entries written before modules were kept.
	Modules *modulesRecord `json:"modules,omitempty"`
}

// DefaultCacheDir is where Fetch and Verify keep kernels and the agent when
// the caller gives no directory: the "vm" directory of dpforge's cache
// (cache.DefaultDir: $DPFORGE_CACHE_DIR, else the user cache directory).
func DefaultCacheDir() (string, error) {
	dir, err := cache.DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "vm"), nil
}

// Fetch returns the newest Debian kernel of a series ("5.10", "6.1",
// "6.12", ... "7.3") for amd64, from the cache under cacheDir or else
// downloaded and unpacked into it.
//
// The newest release is looked up in a private apt configuration under
// cacheDir/apt, which uses the mirror of the machine's own apt sources and
// the Debian archive keyring; the machine's apt state is not touched. The
// index is refreshed when older than six hours. The image package (and,
// for the split packages of 6.19 and newer, linux-modules and linux-base)
// is fetched with apt-get download and read with dpkg-deb; its bzImage is
// decompressed once into an ELF vmlinux, and TrafficModules with their
// dependencies are kept decompressed. The .deb files are not kept.
//
// Fetch is safe for concurrent use by several goroutines and processes:
// the index and each release are guarded by flocks, and an entry appears in
// the cache complete or not at all (built in a temporary directory, renamed).
// It needs apt-get, apt-cache, dpkg-deb and the decompressors of the image
// and the modules (xz, zstd or lz4): see EnsureTools.
func Fetch(ctx context.Context, series, cacheDir string) (*Kernel, error) {
	if !seriesRe.MatchString(series) {
		return nil, fmt.Errorf("fetching kernel: series %q is not of the form 6.1", series)
	}
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	a := apt{dir: filepath.Join(cacheDir, "apt")}
	r, err := a.resolveSeries(ctx, series)
	if err != nil {
		return nil, fmt.Errorf("fetching kernel %s: %w", series, err)
	}
	k, err := fetchRelease(ctx, a, filepath.Join(cacheDir, "kernels"), r)
	if err != nil {
		return nil, fmt.Errorf("fetching kernel %s (%s): %w", series, r.Release, err)
	}
	return k, nil
}

// Cached returns the kernel of a release from the cache, without any
// network access, or an error wrapping fs.ErrNotExist.
func Cached(cacheDir, release string) (*Kernel, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	k, err := loadKernelEntry(filepath.Join(cacheDir, "kernels", release))
	if err != nil {
		return nil, fmt.Errorf("kernel %q: %w", release, err)
	}
	return k, nil
}

// resolveSeries refreshes the index if needed and picks the release.
func (a apt) resolveSeries(ctx context.Context, series string) (resolved, error) {
	pkgs, warning, err := a.indexWarning(ctx)
	if err != nil {
		return resolved{}, err
	}
	r, err := resolve(series, pkgs)
	if err != nil && warning != "" {
		err = fmt.Errorf("%w (the index update reported: %s)", err, warning)
	}
	return r, err
}

// index refreshes the private package index if needed and lists its kernel
// packages.
func (a apt) index(ctx context.Context) ([]packageInfo, error) {
	pkgs, _, err := a.indexWarning(ctx)
	return pkgs, err
}

func (a apt) indexWarning(ctx context.Context) ([]packageInfo, string, error) {
	unlock, err := cache.Lock(ctx, filepath.Join(a.dir, "lock"))
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	m, err := hostMirror()
	if err != nil {
		return nil, "", err
	}
	changed, err := a.prepare(m)
	if err != nil {
		return nil, "", err
	}
	var warning string
	if changed || a.stale(time.Now()) {
		if warning, err = a.update(ctx); err != nil {
			return nil, "", err
		}
	}
	pkgs, err := a.kernelPackages(ctx)
	return pkgs, warning, err
}

// download fetches one package into dir and returns the .deb's path.
func (a apt) download(ctx context.Context, dir, pkg string) (string, error) {
	unlock, err := cache.Lock(ctx, filepath.Join(a.dir, "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	before, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if _, err := a.runIn(ctx, dir, "apt-get", "download", pkg); err != nil {
		return "", err
	}
	after, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	for _, f := range after {
		if !slices.Contains(before, f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("apt-get download %s left no .deb in %s", pkg, dir)
}

// fetchRelease returns the cache entry of r, creating it if needed.
func fetchRelease(ctx context.Context, a apt, kernelsDir string, r resolved) (*Kernel, error) {
	unlock, err := cache.Lock(ctx, filepath.Join(kernelsDir, r.Release+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	final := filepath.Join(kernelsDir, r.Release)
	if k, err := loadKernelEntry(final); err == nil {
		k.Series = r.Series
		return k, nil
	}
	// Holding the release's lock, any temporary directory of this release
	// was left by a killed run.
	for _, pattern := range []string{".tmp-", ".old-"} {
		old, _ := filepath.Glob(filepath.Join(kernelsDir, pattern+r.Release+"-*"))
		for _, d := range old {
			os.RemoveAll(d)
		}
	}
	tmp, err := os.MkdirTemp(kernelsDir, ".tmp-"+r.Release+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// MkdirTemp's 0700 would keep other users of a shared cache out.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}

	rec := kernelRecord{Format: kernelFormat, Kernel: Kernel{
		Series: r.Series, Release: r.Release, Version: r.Version, Package: r.Image,
	}}
	// The image package first: up to 6.18 it has everything.
	c := debContents{stage: moduleStage{dir: filepath.Join(tmp, "stage")}}
	pkgs := []string{r.Image}
	for _, p := range []string{r.Modules, r.Base} {
		if p != "" && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	for _, pkg := range pkgs {
		deb, err := a.download(ctx, tmp, pkg)
		if err != nil {
			return nil, err
		}
		err = c.add(ctx, deb, pkg, r.Release)
		os.Remove(deb)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Base(deb), err)
		}
	}
	image := c.image
	if image == nil {
		return nil, fmt.Errorf("package %s has no kernel image (looked for %s)", r.Image, strings.Join(imagePaths(r.Release), ", "))
	}
	if c.config != nil {
		if err := os.WriteFile(filepath.Join(tmp, "config"), c.config, 0o644); err != nil {
			return nil, err
		}
		rec.ConfigPackage, rec.HasConfig = c.configFrom, true
	}
	if len(c.stage.files) == 0 {
		why := fmt.Sprintf("the packages %s have none", strings.Join(pkgs, ", "))
		if r.Modules == "" && strings.HasPrefix(r.Image, "linux-binary-") {
			why = fmt.Sprintf("package linux-modules-%s is not in the package index", r.Release)
		}
		rec.Modules = &modulesRecord{Unavailable: why}
	} else {
		rec.Modules, err = c.stage.keep(ctx, r.Release, TrafficModules, filepath.Join(tmp, "modules"))
		if err != nil {
			return nil, fmt.Errorf("keeping modules: %w", err)
		}
	}
	if err := os.RemoveAll(c.stage.dir); err != nil {
		return nil, err
	}

	f, err := os.Create(filepath.Join(tmp, "vmlinux"))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	rec.Compression, err = extractVmlinux(ctx, image, cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("extracting vmlinux from %s: %w", r.Image, err)
	}
	rec.VmlinuxSHA256, rec.VmlinuxSize = hex.EncodeToString(h.Sum(nil)), cw.n

	meta, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "kernel.json"), append(meta, '\n'), 0o644); err != nil {
		return nil, err
	}
	// A damaged or older entry under the final name is replaced: moved
	// aside and removed after the new one took its name, so that a
	// process of an older dpforge holding its paths finds the same
	// vmlinux and config there, but for the instant between two renames.
	old := ""
	if _, err := os.Lstat(final); err == nil {
		old = filepath.Join(kernelsDir, ".old-"+r.Release+"-"+filepath.Base(tmp)[len(".tmp-"+r.Release+"-"):])
		if err := os.Rename(final, old); err != nil {
			return nil, fmt.Errorf("replacing kernel entry: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("storing kernel: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return loadKernelEntry(final)
}

// loadKernelEntry reads and checks a cache entry: its record, and the size
// and sha256 of its vmlinux and kept modules.
func loadKernelEntry(dir string) (*Kernel, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	var rec kernelRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Format != kernelFormat {
		return nil, fmt.Errorf("%s: %w (bad or old record)", dir, fs.ErrNotExist)
	}
	vmlinux := filepath.Join(dir, "vmlinux")
	f, err := os.Open(vmlinux)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	if n != rec.VmlinuxSize || hex.EncodeToString(h.Sum(nil)) != rec.VmlinuxSHA256 {
		return nil, fmt.Errorf("%s: %w (vmlinux does not match its record)", dir, fs.ErrNotExist)
	}
	if rec.Modules == nil {
		return nil, fmt.Errorf("%s: %w (an entry without modules)", dir, fs.ErrNotExist)
	}
	if err := checkModules(dir, rec.Modules); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", dir, fs.ErrNotExist, err)
	}
	k := rec.Kernel
	k.Vmlinux = vmlinux
	k.dir, k.modules = dir, rec.Modules
	if rec.HasConfig {
		k.Config = filepath.Join(dir, "config")
		if _, err := os.Stat(k.Config); err != nil {
			return nil, fmt.Errorf("%s: %w (config missing)", dir, fs.ErrNotExist)
		}
	}
	return &k, nil
}

// Where packages keep the image and the configuration of a release: /boot
// up to 6.18, /usr/lib/modules/<release>/ in the split packages after.
func imagePaths(release string) []string {
	return []string{"boot/vmlinuz-" + release, "usr/lib/modules/" + release + "/vmlinuz", "lib/modules/" + release + "/vmlinuz"}
}

func configPaths(release string) []string {
	return []string{"boot/config-" + release, "usr/lib/modules/" + release + "/config", "lib/modules/" + release + "/config"}
}

// debContents is what Fetch takes out of the packages of a release: the
// image, the configuration and the modules.
type debContents struct {
	image, config []byte
	configFrom    string
	stage         moduleStage
}

// add reads the files of a .deb (dpkg-deb --fsys-tarfile, so dpkg deals
// with the data.tar compression): the image and the configuration into
// memory, the first found of each, and the module files into the stage.
func (c *debContents) add(ctx context.Context, deb, pkg, release string) error {
	images, configs := imagePaths(release), configPaths(release)
	roots := modulesDirs(release)
	return scanDeb(ctx, deb, func(name string, r io.Reader) error {
		var err error
		switch {
		case slices.Contains(images, name):
			if c.image == nil {
				c.image, err = io.ReadAll(r)
			}
		case slices.Contains(configs, name):
			if c.config == nil {
				c.config, err = io.ReadAll(r)
				c.configFrom = pkg
			}
		default:
			for _, root := range roots {
				rel, ok := strings.CutPrefix(name, root)
				if !ok {
					continue
				}
				if rel == modulesBuiltinFile {
					if c.stage.builtin == nil {
						c.stage.builtin, err = io.ReadAll(r)
						c.stage.addPackage(pkg)
					}
				} else if _, _, _, ok := splitModulePath(rel); ok {
					var data []byte
					if data, err = io.ReadAll(r); err == nil {
						err = c.stage.add(pkg, rel, data)
					}
				}
				break
			}
		}
		return err
	})
}

// modulesDirs are the directories a package may keep a release's modules
// in, with a trailing slash: /lib up to 6.1, /usr/lib from 6.12.
func modulesDirs(release string) []string {
	return []string{"lib/modules/" + release + "/", "usr/lib/modules/" + release + "/"}
}

// scanDeb calls visit for every regular file of a .deb, with its path
// (relative, cleaned) and content.
func scanDeb(ctx context.Context, deb string, visit func(name string, r io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := command(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w", err)
	}
	tr := tar.NewReader(out)
	var readErr error
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("reading the package's files: %w", err)
			break
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if err := visit(name, tr); err != nil {
			readErr = fmt.Errorf("%s: %w", name, err)
			break
		}
	}
	if readErr != nil {
		// Stop dpkg-deb rather than decompress the rest.
		cancel()
		cmd.Wait()
		return readErr
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
