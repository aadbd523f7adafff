package bpf

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cConstants collects "NAME = value" enumerators and "#define NAME value"
// integer macros from the C headers.
func cConstants(t *testing.T) map[string]int64 {
	t.Helper()
	enumerator := regexp.MustCompile(`^\s*([A-Z][A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+|\d+),`)
	define := regexp.MustCompile(`^#define\s+([A-Z][A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+)\b`)
	out := map[string]int64{}
	err := fs.WalkDir(Source, "include", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Source, path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := enumerator.FindStringSubmatch(line)
			if m == nil {
				m = define.FindStringSubmatch(line)
			}
			if m == nil {
				continue
			}
			v, err := strconv.ParseInt(m[2], 0, 64)
			if err != nil {
				return err
			}
			out[m[1]] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestABIConstants checks the Go constants against the C source they mirror.
func TestABIConstants(t *testing.T) {
	c := cConstants(t)
	want := map[string]int64{
		"TUNNEL_PROTOCOL_VXLAN":  TunnelProtocolVXLAN,
		"TUNNEL_PROTOCOL_GENEVE": TunnelProtocolGeneve,
		"DSR_ENCAP_NONE":         DSREncapNone,
		"HOST_ID":                IdentityHost,
		"WORLD_ID":               IdentityWorld,
		"REMOTE_NODE_ID":         IdentityRemoteNode,
		"IPV4_DSR_OPT_TYPE":      IPv4DSROptType,
		"EP_F_ENFORCE_INGRESS":   EndpointEnforceIngress,
		"EP_F_ENFORCE_EGRESS":    EndpointEnforceEgress,
		"EP_F_HOST":              EndpointHost,
		"IPC_F_SKIP_TUNNEL":      IPCacheSkipTunnel,
		"CT_EGRESS":              CTEgress,
		"CT_INGRESS":             CTIngress,
		"CT_SERVICE":             CTService,
		"NAT_EGRESS":             NATEgress,
		"NAT_INGRESS":            NATIngress,
		"CT_F_DSR":               CTFlagDSR,
		"CT_F_SNAT":              CTFlagSNAT,
		"CT_F_LOCAL":             CTFlagLocal,
		"SVC_F_NODEPORT":         ServiceNodePort,
		"SVC_F_EXTERNAL":         ServiceExternal,
		"SVC_F_DSR":              ServiceDSR,
		"POLICY_INGRESS":         PolicyIngress,
		"POLICY_EGRESS":          PolicyEgress,
		"DIR_INGRESS":            int64(DirIngress),
		"DIR_EGRESS":             int64(DirEgress),
		"TRACE_MAP_SIZE":         1,
	}
	for k, name := range traceKindNames {
		want["TRACE_"+name] = int64(k)
	}
	for h := HookFromContainer; h <= HookToOverlay; h++ {
		want["HOOK_"+strings.ToUpper(strings.TrimPrefix(h.String(), "cil_"))] = int64(h)
	}
	for r, name := range reasonNames {
		cname := name
		if !r.IsDrop() {
			cname = "REASON_" + name
		}
		want[cname] = int64(r)
	}
	want["DROP_BASE"] = int64(DropBase)

	for name, v := range want {
		got, ok := c[name]
		if !ok {
			t.Errorf("%s: not found in the C headers", name)
		} else if got != v {
			t.Errorf("%s: C has %d, Go %d", name, got, v)
		}
	}
	// Every C reason and trace kind must have a Go name.
	for name, v := range c {
		if (strings.HasPrefix(name, "REASON_") || strings.HasPrefix(name, "DROP_") || strings.HasPrefix(name, "TRACE_")) && name != "DROP_BASE" {
			if _, ok := want[name]; !ok {
				t.Errorf("C constant %s = %d has no Go counterpart", name, v)
			}
		}
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{
		ReasonForwarded: "FORWARDED", DropInvalid: "DROP_INVALID", DropBWHorizon: "DROP_BW_HORIZON", Reason(200): "Reason(200)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, want)
		}
	}
	if ReasonPassHost.IsDrop() || !DropInvalid.IsDrop() {
		t.Error("IsDrop is wrong")
	}
}
