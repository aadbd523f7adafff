package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/features"
)

// compileC compiles a small BPF C source like the fixture.
func compileC(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "x.c"), filepath.Join(dir, "x.o")
	os.WriteFile(in, []byte(src), 0o644)
	compileBPF(t, in, out)
	return out
}

const compatHeader = `#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
`

func TestCheckOldKernel(t *testing.T) {
	modern := compileC(t, compatHeader+`
volatile const __u32 cfg_ifindex = 2;
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } ev SEC(".maps");
SEC("tc") int prog(struct __sk_buff *skb) {
	__u32 x = 1;
	bpf_ringbuf_output(&ev, &x, sizeof(x), 0);
	return bpf_redirect_peer(cfg_ifindex, 0);
}
char _license[] SEC("license") = "GPL";
`)
	got, err := CheckOldKernel(modern, features.V(4, 19, 232), map[string]uint32{"prog": 200000})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"map ev uses map:RingBuf, which needs kernel 5.8",
		"program prog needed 200000 verified instructions, kernel 4.19.232 stops at 131072",
		"program prog uses helper:redirect_peer, which needs kernel 5.10",
		"program prog uses helper:ringbuf_output, which needs kernel 5.8",
		"section .rodata: global data needs kernel 5.2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modern object on 4.19 (-want +got):\n%s", diff)
	}
	if got, _ := CheckOldKernel(modern, features.V(5, 10, 0), nil); len(got) != 1 || !strings.HasPrefix(got[0], "section .rodata") {
		// .rodata is reported whatever the kernel: the check is for
		// objects meant to have none.
		t.Errorf("modern object on 5.10: %v", got)
	}

	old := compileC(t, compatHeader+`
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } cfg SEC(".maps");
SEC("tc") int prog(struct __sk_buff *skb) {
	__u32 k = 0, *ifindex = bpf_map_lookup_elem(&cfg, &k);
	return ifindex ? bpf_redirect(*ifindex, 0) : TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
`)
	if got, err := CheckOldKernel(old, features.V(4, 19, 232), map[string]uint32{"prog": 10}); err != nil || len(got) > 0 {
		t.Errorf("4.19-style object: %v, %v", got, err)
	}
}
