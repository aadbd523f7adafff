package vm

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// cpioEntry is an entry read back by readNewc.
type cpioEntry struct {
	Name         string
	Mode         uint32
	Major, Minor uint32
	Data         string
}

// readNewc is an independent reader of the newc format, for the tests.
func readNewc(t *testing.T, data []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(data) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(data[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(h[6+8*i:6+8*i+8], 16, 32)
			if err != nil {
				t.Fatalf("field %d of header at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		mode, size, rmaj, rmin, namesize := field(1), field(6), field(9), field(10), field(11)
		off += 110
		name := string(data[off : off+int(namesize)-1])
		if data[off+int(namesize)-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		off += int(namesize)
		align()
		if name == cpioTrailer {
			if off != len(data) {
				t.Fatalf("%d bytes after the trailer", len(data)-off)
			}
			return out
		}
		body := string(data[off : off+int(size)])
		off += int(size)
		align()
		out = append(out, cpioEntry{Name: name, Mode: mode, Major: rmaj, Minor: rmin, Data: body})
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	c := newCPIOWriter(&buf)
	c.Dir("dev", 0o755)
	c.CharDev("/dev/console", 0o600, 5, 1)
	c.File("init", 0o755, []byte("#!agent"))
	c.File("a/b/odd", 0o644, []byte("12345")) // sizes not multiple of 4
	c.File("empty", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not 4-aligned", buf.Len())
	}
	want := []cpioEntry{
		{Name: "dev", Mode: 0o040755},
		{Name: "dev/console", Mode: 0o020600, Major: 5, Minor: 1},
		{Name: "init", Mode: 0o100755, Data: "#!agent"},
		{Name: "a/b/odd", Mode: 0o100644, Data: "12345"},
		{Name: "empty", Mode: 0o100644},
	}
	if diff := cmp.Diff(want, readNewc(t, buf.Bytes())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	// GNU cpio agrees, where it is installed.
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Log("cpio not installed: GNU cpio cross-check skipped")
		return
	}
	cmd := exec.Command("cpio", "-i", "-t", "-v", "--quiet")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -itv: %v\n%s", err, out)
	}
	var got []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		got = append(got, f[0]+" "+f[len(f)-1])
	}
	wantList := []string{"drwxr-xr-x dev", "crw------- dev/console", "-rwxr-xr-x init", "-rw-r--r-- a/b/odd", "-rw-r--r-- empty"}
	if diff := cmp.Diff(wantList, got); diff != "" {
		t.Errorf("cpio -itv (-want +got):\n%s\n%s", diff, out)
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	os.WriteFile(config, []byte("CONFIG_BPF=y\n"), 0o644)
	var objs []Object
	for i, name := range []string{"v1", "v2"} {
		p := filepath.Join(dir, name+".o")
		os.WriteFile(p, []byte(fmt.Sprintf("object %d", i)), 0o644)
		objs = append(objs, Object{Name: name, Path: p, Programs: []string{"prog_" + name}})
	}
	k := &Kernel{Release: "6.1.0-56-amd64", Config: config}

	var buf bytes.Buffer
	if err := writeInitramfs(&buf, []byte("AGENT"), k, objs, false, wire.Request{}, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]cpioEntry{}
	var names []string
	for _, e := range readNewc(t, raw) {
		files[e.Name] = e
		names = append(names, e.Name)
	}
	wantNames := []string{"dev", "proc", "sys", "tmp", "boot", "dpforge", "dpforge/objects", "dpforge/scenarios",
		"dev/console", "init", "boot/config-6.1.0-56-amd64", "dpforge/request.json", "dpforge/objects/0.o", "dpforge/objects/1.o"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if e := files["init"]; e.Data != "AGENT" || e.Mode != 0o100755 {
		t.Errorf("init: %+v", e)
	}
	if e := files["dev/console"]; e.Major != 5 || e.Minor != 1 {
		t.Errorf("dev/console: %+v", e)
	}
	if files["dpforge/objects/1.o"].Data != "object 1" {
		t.Errorf("object 1: %q", files["dpforge/objects/1.o"].Data)
	}
	var req wire.Request
	if err := json.Unmarshal([]byte(files["dpforge/request.json"].Data), &req); err != nil {
		t.Fatal(err)
	}
	wantReq := wire.Request{Objects: []wire.ObjectRequest{
		{Name: "v1", Path: "/dpforge/objects/0.o", Programs: []string{"prog_v1"}},
		{Name: "v2", Path: "/dpforge/objects/1.o", Programs: []string{"prog_v2"}},
	}}
	if diff := cmp.Diff(wantReq, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	// Every path the request names is in the archive.
	for _, o := range req.Objects {
		if _, ok := files[strings.TrimPrefix(o.Path, "/")]; !ok {
			t.Errorf("request names %s, not in the archive", o.Path)
		}
	}

	// Deterministic: the same input gives the same archive.
	var again bytes.Buffer
	writeInitramfs(&again, []byte("AGENT"), k, objs, false, wire.Request{}, nil)
	var first bytes.Buffer
	writeInitramfs(&first, []byte("AGENT"), k, objs, false, wire.Request{}, nil)
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Error("two initramfs of the same input differ")
	}
}
