package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// fakeELF is a stand-in vmlinux: the ELF magic and compressible noise.
func fakeELF() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := []byte("\x7fELF\x02\x01\x01")
	for len(b) < 256<<10 {
		b = append(b, byte(r.IntN(16)))
	}
	return b
}

// makeBzImage wraps a payload the way arch/x86/boot does: one setup
// sector after the boot sector, the setup header at 0x1f1, the payload at
// payload_offset into the protected-mode part.
func makeBzImage(payload []byte) []byte {
	const setupSects, payloadOffset = 1, 0x80
	img := make([]byte, (setupSects+1)*512+payloadOffset)
	img[offSetupSects] = setupSects
	copy(img[offHeaderMagic:], "HdrS")
	binary.LittleEndian.PutUint16(img[offProtocol:], 0x020f)
	binary.LittleEndian.PutUint32(img[offPayloadOffset:], payloadOffset)
	binary.LittleEndian.PutUint32(img[offPayloadLength:], uint32(len(payload)))
	img = append(img, payload...)
	return append(img, make([]byte, 64)...) // whatever follows the payload
}

// compress runs a compressor the way the kernel build does.
func compressWith(t *testing.T, data []byte, argv ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s not installed", argv[0])
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return out
}

func withSize(compressed []byte, n int) []byte {
	return binary.LittleEndian.AppendUint32(compressed, uint32(n))
}

func TestExtractVmlinux(t *testing.T) {
	elf := fakeELF()
	for _, tc := range []struct {
		format   string
		compress func(t *testing.T) []byte
	}{
		{"gzip", func(t *testing.T) []byte {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(elf)
			zw.Close()
			return b.Bytes()
		}},
		// arch/x86/boot/compressed/Makefile: xzkern, zstd22, lz4 -l, each
		// followed by the size.
		{"xz", func(t *testing.T) []byte {
			return withSize(compressWith(t, elf, "xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c"), len(elf))
		}},
		{"zstd", func(t *testing.T) []byte {
			return withSize(compressWith(t, elf, "zstd", "-19", "-c"), len(elf))
		}},
		{"lz4", func(t *testing.T) []byte {
			return withSize(compressWith(t, elf, "lz4", "-l", "-9", "-c"), len(elf))
		}},
		{"bzip2", func(t *testing.T) []byte {
			return withSize(compressWith(t, elf, "bzip2", "-9", "-c"), len(elf))
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			img := makeBzImage(tc.compress(t))
			var out bytes.Buffer
			format, err := extractVmlinux(context.Background(), img, &out)
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("format %q, want %q", format, tc.format)
			}
			if !bytes.Equal(out.Bytes(), elf) {
				t.Errorf("extracted %d bytes, not the %d-byte ELF", out.Len(), len(elf))
			}
		})
	}
}

func TestExtractVmlinuxErrors(t *testing.T) {
	elf := fakeELF()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(elf)
	zw.Close()

	notELF := bytes.Buffer{}
	zw = gzip.NewWriter(&notELF)
	zw.Write([]byte("MZ not an ELF"))
	zw.Close()

	outside := makeBzImage(gz.Bytes())
	binary.LittleEndian.PutUint32(outside[offPayloadLength:], uint32(len(outside)))

	oldProto := makeBzImage(gz.Bytes())
	binary.LittleEndian.PutUint16(oldProto[offProtocol:], 0x0206)

	for _, tc := range []struct {
		name    string
		img     []byte
		notBz   bool
		message string
	}{
		{"empty", nil, true, ""},
		{"no HdrS", make([]byte, 4096), true, ""},
		{"old boot protocol", oldProto, true, ""},
		{"payload outside", outside, true, ""},
		{"unknown compression", makeBzImage([]byte("PK\x03\x04zip")), true, ""},
		{"not ELF", makeBzImage(notELF.Bytes()), false, "not an ELF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extractVmlinux(context.Background(), tc.img, &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNotBzImage) != tc.notBz {
				t.Errorf("error %v: Is(ErrNotBzImage) = %v", err, !tc.notBz)
			}
			if tc.message != "" && !bytes.Contains([]byte(err.Error()), []byte(tc.message)) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}

	// A wrong appended size is caught.
	if _, err := exec.LookPath("zstd"); err == nil {
		img := makeBzImage(withSize(compressWith(t, elf, "zstd", "-c"), len(elf)+1))
		if _, err := extractVmlinux(context.Background(), img, &bytes.Buffer{}); err == nil {
			t.Error("a wrong appended size was not caught")
		}
	}
}
