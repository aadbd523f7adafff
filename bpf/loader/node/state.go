package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf"
)

// State is the datapath's state as a control plane sees it: what `dpload
// state apply` writes into the pinned maps. Applying it is idempotent:
// entries it does not name are removed, the others written only when they
// differ.
type State struct {
	Endpoints     []Endpoint     `yaml:"endpoints"`
	Host          *Host          `yaml:"host"`
	IPCache       []IPCacheEntry `yaml:"ipcache"`
	Services      []Service      `yaml:"services"`
	Policy        []PolicyRule   `yaml:"policy"`
	EgressGateway []EgressRule   `yaml:"egress-gateway"`
	Bandwidth     []Bandwidth    `yaml:"bandwidth"`
	NonMasquerade []string       `yaml:"non-masquerade"`
	VTEP          []VTEP         `yaml:"vtep"`
}

// Endpoint is a local pod behind a host-side veth.
type Endpoint struct {
	IP string `yaml:"ip"`
	// Veth is the host-side device; its ifindex and MAC are read from the
	// kernel, and the endpoint programs are attached to it.
	Veth string `yaml:"veth"`
	// MAC is the pod's own MAC (inside its namespace).
	MAC            string `yaml:"mac"`
	ID             uint16 `yaml:"id"`
	Identity       uint32 `yaml:"identity"`
	EnforceIngress bool   `yaml:"enforce-ingress"`
	EnforceEgress  bool   `yaml:"enforce-egress"`
}

// Host is the node's own endpoint entry (host firewall).
type Host struct {
	IP             string `yaml:"ip"`
	EnforceIngress bool   `yaml:"enforce-ingress"`
	EnforceEgress  bool   `yaml:"enforce-egress"`
}

// IPCacheEntry maps a prefix to an identity and, in tunnel mode, the node
// that hosts it.
type IPCacheEntry struct {
	Prefix         string `yaml:"prefix"`
	Identity       uint32 `yaml:"identity"`
	TunnelEndpoint string `yaml:"tunnel-endpoint"`
	SkipTunnel     bool   `yaml:"skip-tunnel"`
}

// Service is a frontend and its backends. ID is the reverse-NAT index;
// it must stay the same for a service across applies, since conntrack
// entries refer to it.
type Service struct {
	ID uint16 `yaml:"id"`
	// Frontend is ADDR:PORT; for a NodePort, 0.0.0.0:PORT stands for any
	// node address.
	Frontend string   `yaml:"frontend"`
	Protocol string   `yaml:"protocol"`
	NodePort bool     `yaml:"nodeport"`
	External bool     `yaml:"external"`
	DSR      bool     `yaml:"dsr"`
	Backends []string `yaml:"backends"`
}

// PolicyRule is one entry of the policy map.
type PolicyRule struct {
	Subject   uint32 `yaml:"subject"`
	Direction string `yaml:"direction"`
	Remote    uint32 `yaml:"remote"`
	Port      uint16 `yaml:"port"`
	Protocol  string `yaml:"protocol"`
	Deny      bool   `yaml:"deny"`
}

// EgressRule sends a pod's traffic to a destination out through a gateway
// node with an egress IP.
type EgressRule struct {
	Source      string `yaml:"source"`
	Destination string `yaml:"destination"`
	Gateway     string `yaml:"gateway"`
	EgressIP    string `yaml:"egress-ip"`
}

// Bandwidth is an endpoint's egress rate limit in bits per second.
type Bandwidth struct {
	Endpoint uint16 `yaml:"endpoint"`
	Rate     uint64 `yaml:"rate"`
}

// VTEP is an external VXLAN endpoint for a (masked) destination.
type VTEP struct {
	CIDR           string `yaml:"cidr"`
	TunnelEndpoint string `yaml:"tunnel-endpoint"`
	VNI            uint32 `yaml:"vni"`
	MAC            string `yaml:"mac"`
}

// ParseState decodes a state file strictly: unknown keys are errors.
func ParseState(data []byte) (*State, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s State
	// An empty file is an empty state.
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding state: %w", err)
	}
	return &s, nil
}

// entries is the desired content of one map: encoded key to encoded value.
type entries map[string][]byte

func (e entries) put(k, v any) error {
	kb, err := encode(k)
	if err != nil {
		return err
	}
	vb, err := encode(v)
	if err != nil {
		return err
	}
	if _, dup := e[string(kb)]; dup {
		return fmt.Errorf("duplicate key %+v", k)
	}
	e[string(kb)] = vb
	return nil
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.NativeEndian, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func addr4(s, what string) ([4]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, fmt.Errorf("%s %q: not an IPv4 address", what, s)
	}
	return a.As4(), nil
}

func prefix4(s, what string) (bpf.LPM4Key, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			return bpf.LPM4Key{}, fmt.Errorf("%s %q: not an IPv4 prefix", what, s)
		}
	}
	if !p.Addr().Is4() {
		return bpf.LPM4Key{}, fmt.Errorf("%s %q: not an IPv4 prefix", what, s)
	}
	p = p.Masked()
	return bpf.LPM4Key{Prefixlen: uint32(p.Bits()), Addr: p.Addr().As4()}, nil
}

func protocol(s string) (uint8, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "", "any":
		return 0, nil
	}
	return 0, fmt.Errorf("protocol %q: want tcp, udp, icmp or any", s)
}

func addrPort(s, what string) ([4]byte, uint16, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() {
		return [4]byte{}, 0, fmt.Errorf("%s %q: want IPV4:PORT", what, s)
	}
	return ap.Addr().As4(), ap.Port(), nil
}

// DeviceInfo resolves a host-side device to its ifindex and MAC.
type DeviceInfo func(name string) (ifindex uint32, mac [6]byte, err error)

// LinkInfo resolves a device in the caller's network namespace.
func LinkInfo(name string) (uint32, [6]byte, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, [6]byte{}, fmt.Errorf("device %q: %w", name, err)
	}
	var mac [6]byte
	copy(mac[:], l.Attrs().HardwareAddr)
	return uint32(l.Attrs().Index), mac, nil
}

// Desired encodes s into the content of every map it owns, resolving veths
// with dev.
func (s *State) Desired(dev DeviceInfo) (map[string]entries, error) {
	want := map[string]entries{}
	for _, name := range []string{bpf.MapEndpoints, bpf.MapIPCache, bpf.MapServices, bpf.MapBackends, bpf.MapRevNAT,
		bpf.MapPolicy, bpf.MapEgressGW, bpf.MapThrottle, bpf.MapNonMasq, bpf.MapVTEP} {
		want[name] = entries{}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for i, e := range s.Endpoints {
		ip, err := addr4(e.IP, "endpoint ip")
		if err != nil {
			fail("endpoints[%d]: %w", i, err)
			continue
		}
		mac, err := net.ParseMAC(e.MAC)
		if err != nil || len(mac) != 6 {
			fail("endpoints[%d]: mac %q: not a MAC address", i, e.MAC)
			continue
		}
		if e.Veth == "" {
			fail("endpoints[%d]: no veth", i)
			continue
		}
		ifindex, nodeMAC, err := dev(e.Veth)
		if err != nil {
			fail("endpoints[%d]: %w", i, err)
			continue
		}
		var flags uint16
		if e.EnforceIngress {
			flags |= bpf.EndpointEnforceIngress
		}
		if e.EnforceEgress {
			flags |= bpf.EndpointEnforceEgress
		}
		if err := want[bpf.MapEndpoints].put(bpf.EndpointKey{Addr: ip},
			bpf.EndpointInfo{Ifindex: ifindex, MAC: [6]byte(mac), NodeMAC: nodeMAC, EpID: e.ID, Flags: flags, SecID: e.Identity}); err != nil {
			fail("endpoints[%d]: %w", i, err)
		}
	}
	if h := s.Host; h != nil {
		ip, err := addr4(h.IP, "host ip")
		if err != nil {
			fail("host: %w", err)
		} else {
			flags := uint16(bpf.EndpointHost)
			if h.EnforceIngress {
				flags |= bpf.EndpointEnforceIngress
			}
			if h.EnforceEgress {
				flags |= bpf.EndpointEnforceEgress
			}
			if err := want[bpf.MapEndpoints].put(bpf.EndpointKey{Addr: ip}, bpf.EndpointInfo{Flags: flags, SecID: bpf.IdentityHost}); err != nil {
				fail("host: %w", err)
			}
		}
	}
	for i, c := range s.IPCache {
		key, err := prefix4(c.Prefix, "prefix")
		if err != nil {
			fail("ipcache[%d]: %w", i, err)
			continue
		}
		v := bpf.RemoteEndpointInfo{SecID: c.Identity}
		if c.TunnelEndpoint != "" {
			if v.TunnelEP, err = addr4(c.TunnelEndpoint, "tunnel-endpoint"); err != nil {
				fail("ipcache[%d]: %w", i, err)
				continue
			}
		}
		if c.SkipTunnel {
			v.Flags = bpf.IPCacheSkipTunnel
		}
		if err := want[bpf.MapIPCache].put(key, v); err != nil {
			fail("ipcache[%d]: %w", i, err)
		}
	}
	for i, svc := range s.Services {
		if err := svc.encode(want); err != nil {
			fail("services[%d]: %w", i, err)
		}
	}
	for i, p := range s.Policy {
		proto, err := protocol(p.Protocol)
		if err != nil {
			fail("policy[%d]: %w", i, err)
			continue
		}
		var dir uint8
		switch p.Direction {
		case "ingress":
			dir = bpf.PolicyIngress
		case "egress":
			dir = bpf.PolicyEgress
		default:
			fail("policy[%d]: direction %q: want ingress or egress", i, p.Direction)
			continue
		}
		var deny uint8
		if p.Deny {
			deny = 1
		}
		if err := want[bpf.MapPolicy].put(bpf.PolicyKey{SubjectID: p.Subject, RemoteID: p.Remote, Dport: bpf.PortOf(p.Port), Proto: proto, Dir: dir},
			bpf.PolicyEntry{Deny: deny}); err != nil {
			fail("policy[%d]: %w", i, err)
		}
	}
	for i, g := range s.EgressGateway {
		src, err1 := addr4(g.Source, "source")
		dst, err2 := prefix4(g.Destination, "destination")
		gw, err3 := addr4(g.Gateway, "gateway")
		var eip [4]byte
		var err4 error
		if g.EgressIP != "" {
			eip, err4 = addr4(g.EgressIP, "egress-ip")
		}
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			fail("egress-gateway[%d]: %w", i, err)
			continue
		}
		if err := want[bpf.MapEgressGW].put(bpf.EgressGWKey{Prefixlen: 32 + dst.Prefixlen, Saddr: src, Daddr: dst.Addr},
			bpf.EgressGWValue{EgressIP: eip, GatewayIP: gw}); err != nil {
			fail("egress-gateway[%d]: %w", i, err)
		}
	}
	for i, b := range s.Bandwidth {
		if err := want[bpf.MapThrottle].put(bpf.ThrottleKey{EpID: uint32(b.Endpoint)}, bpf.ThrottleValue{RateBps: b.Rate}); err != nil {
			fail("bandwidth[%d]: %w", i, err)
		}
	}
	for i, c := range s.NonMasquerade {
		key, err := prefix4(c, "non-masquerade")
		if err == nil {
			err = want[bpf.MapNonMasq].put(key, bpf.NonMasqValue{Present: 1})
		}
		if err != nil {
			fail("non-masquerade[%d]: %w", i, err)
		}
	}
	for i, v := range s.VTEP {
		a, err1 := addr4(v.CIDR, "cidr")
		ep, err2 := addr4(v.TunnelEndpoint, "tunnel-endpoint")
		mac, err3 := net.ParseMAC(v.MAC)
		if err := errors.Join(err1, err2, err3); err != nil || len(mac) != 6 {
			fail("vtep[%d]: %v", i, err)
			continue
		}
		if err := want[bpf.MapVTEP].put(bpf.VTEPKey{Addr: a}, bpf.VTEPValue{TunnelEP: ep, VNI: v.VNI, MAC: [6]byte(mac)}); err != nil {
			fail("vtep[%d]: %w", i, err)
		}
	}
	return want, errors.Join(errs...)
}

func (svc Service) encode(want map[string]entries) error {
	if svc.ID == 0 {
		return fmt.Errorf("service %q: id must be 1 or more", svc.Frontend)
	}
	addr, port, err := addrPort(svc.Frontend, "frontend")
	if err != nil {
		return err
	}
	proto, err := protocol(svc.Protocol)
	if err != nil || proto == 0 || proto == 1 {
		return fmt.Errorf("service %q: protocol %q: want tcp or udp", svc.Frontend, svc.Protocol)
	}
	if len(svc.Backends) > 0xffff {
		return fmt.Errorf("service %q: %d backends, at most 65535", svc.Frontend, len(svc.Backends))
	}
	var flags uint16
	if svc.NodePort {
		flags |= bpf.ServiceNodePort
	}
	if svc.External {
		flags |= bpf.ServiceExternal
	}
	if svc.DSR {
		flags |= bpf.ServiceDSR
	}
	key := bpf.SvcKey{Addr: addr, Dport: bpf.PortOf(port), Proto: proto}
	if err := want[bpf.MapServices].put(key, bpf.SvcValue{Count: uint16(len(svc.Backends)), RevNATIndex: svc.ID, Flags: flags}); err != nil {
		return err
	}
	if err := want[bpf.MapRevNAT].put(bpf.RevNATKey{Index: svc.ID}, bpf.RevNATValue{Addr: addr, Port: bpf.PortOf(port)}); err != nil {
		return fmt.Errorf("service %q: id %d is used twice", svc.Frontend, svc.ID)
	}
	for i, b := range svc.Backends {
		ba, bp, err := addrPort(b, "backend")
		if err != nil {
			return err
		}
		// Backend ids derive from the service id and slot, so they are
		// stable across applies and never collide between services.
		id := uint32(svc.ID)<<16 | uint32(i+1)
		key.Slot = uint16(i + 1)
		if err := want[bpf.MapServices].put(key, bpf.SvcValue{BackendID: id}); err != nil {
			return err
		}
		if err := want[bpf.MapBackends].put(bpf.BackendKey{ID: id}, bpf.BackendValue{Addr: ba, Port: bpf.PortOf(bp), Proto: proto}); err != nil {
			return err
		}
	}
	return nil
}

// Veths returns the endpoints' host-side devices, sorted.
func (s *State) Veths() []string {
	var out []string
	for _, e := range s.Endpoints {
		out = append(out, e.Veth)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ApplyReport counts what an apply changed.
type ApplyReport struct {
	Added, Updated, Removed, Unchanged int
	Attached, Detached                 []string
}

// sameValue compares an existing value with the wanted one, ignoring what
// the datapath owns (a throttle's last departure time).
func sameValue(mapName string, old, want []byte) bool {
	if mapName == bpf.MapThrottle && len(old) == 24 && len(want) == 24 {
		return bytes.Equal(old[:8], want[:8]) && bytes.Equal(old[16:], want[16:])
	}
	return bytes.Equal(old, want)
}

// ApplyState writes s into the pinned maps and attaches (detaches) the
// endpoint programs to (from) the veths of endpoints that came (went).
// New endpoints get their map entries before their programs; endpoints
// that go lose their programs before their entries.
func (n *Node) ApplyState(s *State, dev DeviceInfo) (*ApplyReport, error) {
	unlock, err := n.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := n.LoadRecord()
	if err != nil {
		return nil, err
	}
	want, err := s.Desired(dev)
	if err != nil {
		return nil, err
	}
	rep := &ApplyReport{}
	newVeths := s.Veths()
	var gone []string
	for _, v := range r.Endpoints {
		if !slices.Contains(newVeths, v) {
			gone = append(gone, v)
		}
	}
	// Programs off the veths that go.
	keep := r.Hooks[:0:0]
	for _, h := range r.Hooks {
		if slices.Contains(gone, h.Device) {
			if err := detachHook(h); err != nil {
				return rep, err
			}
			continue
		}
		keep = append(keep, h)
	}
	r.Hooks = keep
	rep.Detached = gone
	r.Endpoints = slices.DeleteFunc(r.Endpoints, func(v string) bool { return slices.Contains(gone, v) })
	if len(gone) > 0 {
		if err := n.writeRecord(r); err != nil {
			return rep, err
		}
	}

	for _, name := range sortedKeys(want) {
		m, err := n.PinnedMap(name)
		if err != nil {
			return rep, err
		}
		err = reconcile(m, name, want[name], rep)
		m.Close()
		if err != nil {
			return rep, fmt.Errorf("map %s: %w", name, err)
		}
	}

	// Programs onto the veths that came.
	var added []string
	for _, v := range newVeths {
		if !slices.Contains(r.Endpoints, v) {
			added = append(added, v)
		}
	}
	if len(added) > 0 {
		progs := map[string]*ebpf.Program{}
		for _, name := range []string{bpf.ProgFromContainer, bpf.ProgToContainer} {
			p, err := ebpf.LoadPinnedProgram(n.progPath(name), nil)
			if err != nil {
				return rep, fmt.Errorf("loading pinned %s: %w", name, err)
			}
			defer p.Close()
			progs[name] = p
		}
		done := make([][]Hook, len(added))
		errs := parallel(len(added), attachWorkers, func(i int) error {
			return n.attachAll(hooksFor(Spec{Endpoints: added[i : i+1], Mode: r.Mode}), progs, &done[i])
		})
		var failed []error
		for i, v := range added {
			if errs[i] != nil {
				failed = append(failed, errs[i])
				continue
			}
			r.Hooks = append(r.Hooks, done[i]...)
			r.Endpoints = append(r.Endpoints, v)
			rep.Attached = append(rep.Attached, v)
		}
		if len(failed) > 0 {
			// What attached stays recorded (a later apply or detach
			// finds it); the hooks of a failed endpoint are undone.
			for i := range added {
				if errs[i] != nil {
					for j := len(done[i]) - 1; j >= 0; j-- {
						detachHook(done[i][j])
					}
				}
			}
			n.writeRecord(r)
			return rep, errors.Join(failed...)
		}
		if err := n.writeRecord(r); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// reconcile makes m hold exactly want.
func reconcile(m *ebpf.Map, name string, want entries, rep *ApplyReport) error {
	key := make([]byte, m.KeySize())
	val := make([]byte, m.ValueSize())
	have := map[string][]byte{}
	it := m.Iterate()
	for it.Next(&key, &val) {
		have[string(key)] = slices.Clone(val)
	}
	if err := it.Err(); err != nil {
		return err
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := m.Delete([]byte(k)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return err
			}
			rep.Removed++
		}
	}
	for _, k := range sortedKeys(want) {
		v := want[k]
		if len(k) != int(m.KeySize()) || len(v) != int(m.ValueSize()) {
			return fmt.Errorf("entry of %d/%d bytes, the map has %d/%d", len(k), len(v), m.KeySize(), m.ValueSize())
		}
		old, ok := have[k]
		switch {
		case !ok:
			rep.Added++
		case sameValue(name, old, v):
			rep.Unchanged++
			continue
		default:
			rep.Updated++
			if name == bpf.MapThrottle {
				v = slices.Clone(v)
				copy(v[8:16], old[8:16])
			}
		}
		if err := m.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}
