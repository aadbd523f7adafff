package features

import "sort"

// Claim is one statement about a distribution kernel's capability, with
// where it comes from.
type Claim struct {
	Cap    Capability
	Has    bool
	Source string
}

// Distro is a named distribution kernel whose backports make it differ from
// its version number: its claims win over the version table, each with its
// source; capabilities it makes no claim about follow the version.
type Distro struct {
	Name    string
	Doc     string
	Release string // a representative uname -r
	Version Version
	Claims  []Claim
}

// rhel8Backports is the source of the RHEL 8 claims that follow Cilium's own
// kernel requirements.
const rhel8Backports = "cilium/cilium#39789: RHEL 8 backported much of newer eBPF, so current Cilium, whose requirements target an upstream 5.10 kernel, runs on RHEL 8.10's 4.18"

// distros are the named distribution kernels. Only what a source states is
// claimed.
var distros = []Distro{
	{Name: "rhel8", Doc: "Red Hat Enterprise Linux 8.10 (and rebuilds: Rocky, Alma, Oracle RHCK)", Release: "4.18.0-553.el8_10.x86_64", Version: V(4, 18, 0),
		Claims: []Claim{
			{CapRedirectNeigh, true, rhel8Backports},
			{CapRedirectPeer, true, rhel8Backports},
			{CapISAv3, true, rhel8Backports},
			{CapLargeInsnLimit, true, rhel8Backports},
			{CapBoundedLoops, true, rhel8Backports},
			{CapRODataMap, true, rhel8Backports},
			{CapRingBuf, true, "grafana/beyla#1175: 4.18.0-xxx.el8 kernels after 4.18.0-240 have BPF ring buffers and BTF"},
		}},
	{Name: "rhel9", Doc: "Red Hat Enterprise Linux 9 (5.14 with backports; only the version is relied on)", Release: "5.14.0-503.el9.x86_64", Version: V(5, 14, 0)},
}

// LookupDistro finds a named distribution kernel.
func LookupDistro(name string) (Distro, bool) {
	for _, d := range distros {
		if d.Name == name {
			return d, true
		}
	}
	return Distro{}, false
}

// DistroNames lists the named distribution kernels, sorted.
func DistroNames() []string {
	var out []string
	for _, d := range distros {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// Kernel is the distribution kernel as a kernel profile.
func (d Distro) Kernel() Kernel {
	k := Kernel{Name: d.Name, Version: d.Version, Release: d.Release}
	if len(d.Claims) > 0 {
		k.Probed = map[Capability]bool{}
		k.Sources = map[Capability]string{}
		for _, c := range d.Claims {
			k.Probed[c.Cap] = c.Has
			k.Sources[c.Cap] = c.Source
		}
	}
	return k
}
