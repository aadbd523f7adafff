// Package vm verifies BPF objects on kernels other than the running one, by
// booting Debian's kernels under qemu and loading the objects inside.
//
// Vocabulary:
//
//   - A series is a kernel line as Debian ships it, "5.10", "6.1", "6.12"
//     (and 6.16 and newer from trixie-backports). Fetch resolves a series
//     to its newest release in the package index.
//   - A release is what uname -r prints in the guest, e.g. "6.1.0-56-amd64"
//     or "6.12.118+deb13-amd64"; counts are recorded under it, as
//     generator/verify.Verify records them under the host's. Its version is
//     the Debian package version, "6.1.192-2".
//   - A Kernel is a release ready to boot: the ELF vmlinux decompressed
//     from the package's bzImage (booting it spares the guest the
//     decompression, 1.5–3 s under TCG), the kernel's config, and the
//     modules the traffic suite needs (TrafficModules and what they depend
//     on), decompressed, for the guest to load with finit_module in the
//     order Kernel.ModuleFiles gives. HostTools adds this machine's
//     programs (ip, tc) with their shared libraries.
//   - The agent (AgentPackage) is a static Go program that runs as the
//     guest's /init: it loads every requested program with cilium/ebpf and
//     answers on the serial console in the framing of internal/wire.
//   - Verify writes an initramfs (newc cpio, gzip; written in Go) with the
//     agent, /dev/console, /boot/config-<release> and the objects, boots it
//     with qemu under a timeout and returns a Report: per object and
//     program, the verified instruction count, or a *loader.ProgramError with
//     the full verifier log.
//
// Fetch and Verify never touch the machine's own apt configuration or
// packages. What they run (apt-get, apt-cache, dpkg-deb, xz, zstd, lz4,
// qemu-system-x86_64, go) must be installed: EnsureTools installs the
// missing ones with apt-get, and only when the caller calls it.
//
// The cache, under a directory given to Fetch (default DefaultCacheDir()):
//
//	apt/sources.list.d/dpforge.sources   the private apt sources: the
//	                                     machine's mirror (read from
//	                                     /etc/apt/sources.list.d/debian.sources),
//	                                     Debian's keyring, Packages only
//	apt/lists/, apt/cache/pkgcache.bin   the private index, refreshed when
//	                                     older than six hours
//	apt/updated                          time of the last refresh
//	apt/lock                             flock: index updates, look-ups and
//	                                     downloads, one at a time
//	kernels/<release>/vmlinux            the ELF kernel
//	kernels/<release>/config             its configuration
//	kernels/<release>/modules/kernel/... the kept modules, decompressed, at
//	                                     their paths under lib/modules/<release>
//	kernels/<release>/modules/modules.builtin    the package's list of
//	                                     built-in modules
//	kernels/<release>/modules/modules.available  every module of the
//	                                     package, one path a line
//	kernels/<release>/kernel.json        the record: series, version,
//	                                     packages, compression, vmlinux sha256,
//	                                     the kept modules (path, depends,
//	                                     sha256) or why there are none
//	kernels/<release>.lock               flock: one fetch of a release at a time
//	kernels/.tmp-<release>-*             an entry being built (the package's
//	                                     modules staged in it); renamed to
//	                                     kernels/<release> when complete
//	kernels/.old-<release>-*             the entry it replaced, removed
//	                                     right after
//	agent/<key[:2]>/<key>                the agent binary; key: Go version,
//	                                     flags, sources, module versions
//	agent/<key[:2]>/<key>.sha256         its record, written last
//	traffic/<sha[:16]>/dpload.test       the traffic suite (go test -c of
//	                                     cmd/dpload), named by its content;
//	                                     entries unused for a day are removed
//	traffic/<sha[:16]>/fixtures/         its fixture builds (TestFixtures run
//	                                     here), complete once .complete exists
//	traffic/<sha[:16]>/fixtures.lock     flock: one fixture build at a time
//
// An entry's vmlinux and modules are checked against its record on every
// use; a damaged entry, or one written before modules were kept, is fetched
// again. The .deb packages are not kept (60–110 MB each). The packages
// ship no modules.dep (depmod writes it on installation): a module's
// dependencies are its .modinfo "depends=". Up to 6.18 the modules are in
// the image package (plain .ko up to 6.1, .ko.xz from 6.12); from 6.19 in
// linux-modules-<release>, and modules.builtin in linux-base-<release>. A
// release whose modules package is missing from the index (6.19 and 7.0
// in trixie-backports as of 2026-11) is kept without modules, and
// ModuleFiles says why.
//
// Several Verify calls may run at once, each booting its own machine with
// one vCPU; the caller chooses how many (the machine has two cores). A boot
// with the agent's first record takes about 2–3 s; loading the ten
// variants of the default matrix about 3–4 s more.
//
// Traffic runs the loader's traffic suite in a guest: the initramfs adds
// the suite's static test binary, its fixture builds, the kernel modules
// its topology needs (TrafficModules, loaded by the agent with
// finit_module before anything else) and this machine's ip and tc with
// their libraries (HostTools); the agent runs the binary, copies its
// output to the console and sends the cases the suite recorded.
package vm
