package vm

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// A bzImage (Documentation/arch/x86/boot.rst) is the real-mode setup code,
// setup_sects+1 sectors of 512 bytes, followed by the protected-mode code,
// which holds a decompressor and, at payload_offset from its start,
// payload_length bytes of the compressed ELF vmlinux. Booting the ELF
// directly saves the guest from decompressing it under TCG, 1.5–3 s a boot.
const (
	offSetupSects    = 0x1f1
	offHeaderMagic   = 0x202 // "HdrS"
	offProtocol      = 0x206
	offPayloadOffset = 0x248
	offPayloadLength = 0x24c
	minProtocol      = 0x208 // payload fields exist from boot protocol 2.08
)

// compression is one payload format: the magic its data starts with and how
// to decompress it. appendsSize says whether the kernel build appended the
// decompressed size as 4 little-endian bytes (every format but gzip, whose
// trailer carries it already; see arch/x86/boot/compressed/Makefile).
type compression struct {
	name        string
	magic       []byte
	appendsSize bool
	// Either a Go decompressor or an external command reading stdin.
	reader func(io.Reader) (io.Reader, error)
	argv   []string
}

var compressions = []compression{
	{name: "gzip", magic: []byte{0x1f, 0x8b}, reader: func(r io.Reader) (io.Reader, error) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return zr, nil
	}},
	{name: "bzip2", magic: []byte("BZh"), appendsSize: true, reader: func(r io.Reader) (io.Reader, error) {
		return bzip2.NewReader(r), nil
	}},
	{name: "xz", magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, appendsSize: true, argv: []string{"xz", "-dc", "--single-stream"}},
	{name: "lzma", magic: []byte{0x5d, 0x00, 0x00}, appendsSize: true, argv: []string{"xz", "--format=lzma", "-dc"}},
	// The kernel compresses with a large window (zstd -22 --ultra); allow
	// the decompressor the memory it needs.
	{name: "zstd", magic: []byte{0x28, 0xb5, 0x2f, 0xfd}, appendsSize: true, argv: []string{"zstd", "-dc", "--memory=2048MB"}},
	// The kernel uses lz4's legacy frame format (lz4 -l).
	{name: "lz4", magic: []byte{0x02, 0x21, 0x4c, 0x18}, appendsSize: true, argv: []string{"lz4", "-dc"}},
	{name: "lzo", magic: []byte{0x89, 'L', 'Z', 'O'}, appendsSize: true, argv: []string{"lzop", "-dc"}},
}

// compressionNamed returns the format of that name, or nil.
func compressionNamed(name string) *compression {
	for i := range compressions {
		if compressions[i].name == name {
			return &compressions[i]
		}
	}
	return nil
}

// decompress writes the decompressed data to w.
func (c *compression) decompress(ctx context.Context, data []byte, w io.Writer) error {
	if c.reader != nil {
		r, err := c.reader(bytes.NewReader(data))
		if err == nil {
			_, err = io.Copy(w, r)
		}
		return err
	}
	cmd := command(ctx, c.argv[0], c.argv[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%w (run vm.EnsureTools)", err)
		}
		return fmt.Errorf("%s: %w: %s", c.argv[0], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// ErrNotBzImage is returned (wrapped) by extractVmlinux for data that is not
// a bzImage with a payload it knows.
var ErrNotBzImage = errors.New("not a bzImage with a known payload")

// extractVmlinux writes the ELF vmlinux held by a bzImage to w and returns
// the name of the payload's compression.
func extractVmlinux(ctx context.Context, image []byte, w io.Writer) (string, error) {
	payload, err := bzImagePayload(image)
	if err != nil {
		return "", err
	}
	var c *compression
	for i := range compressions {
		if bytes.HasPrefix(payload, compressions[i].magic) {
			c = &compressions[i]
			break
		}
	}
	if c == nil {
		return "", fmt.Errorf("%w: payload starts with % x", ErrNotBzImage, payload[:min(8, len(payload))])
	}
	want := int64(-1)
	if c.appendsSize {
		if len(payload) < 4 {
			return c.name, fmt.Errorf("%w: %s payload too short", ErrNotBzImage, c.name)
		}
		want = int64(binary.LittleEndian.Uint32(payload[len(payload)-4:]))
		payload = payload[:len(payload)-4]
	}

	cw := &elfCheckWriter{w: w}
	if err := c.decompress(ctx, payload, cw); err != nil {
		return c.name, fmt.Errorf("decompressing %s payload: %w", c.name, err)
	}
	if !cw.elf {
		return c.name, fmt.Errorf("decompressed %s payload is not an ELF file", c.name)
	}
	if want >= 0 && cw.n != want {
		return c.name, fmt.Errorf("decompressed %s payload has %d bytes, the image says %d", c.name, cw.n, want)
	}
	return c.name, nil
}

// bzImagePayload returns the compressed payload of a bzImage, including
// any size the build appended.
func bzImagePayload(image []byte) ([]byte, error) {
	if len(image) < offPayloadLength+4 || string(image[offHeaderMagic:offHeaderMagic+4]) != "HdrS" {
		return nil, fmt.Errorf("%w: no HdrS setup header", ErrNotBzImage)
	}
	if proto := binary.LittleEndian.Uint16(image[offProtocol:]); proto < minProtocol {
		return nil, fmt.Errorf("%w: boot protocol %d.%02d has no payload fields", ErrNotBzImage, proto>>8, proto&0xff)
	}
	setupSects := int(image[offSetupSects])
	if setupSects == 0 {
		setupSects = 4 // as the boot protocol says
	}
	start := (setupSects+1)*512 + int(binary.LittleEndian.Uint32(image[offPayloadOffset:]))
	length := int(binary.LittleEndian.Uint32(image[offPayloadLength:]))
	if length == 0 || start+length > len(image) {
		return nil, fmt.Errorf("%w: payload at %d+%d is outside the %d-byte image", ErrNotBzImage, start, length, len(image))
	}
	return image[start : start+length], nil
}

// elfCheckWriter counts what passes through and checks it starts with the
// ELF magic.
type elfCheckWriter struct {
	w    io.Writer
	n    int64
	head []byte
	elf  bool
}

func (e *elfCheckWriter) Write(p []byte) (int, error) {
	if len(e.head) < 4 {
		e.head = append(e.head, p[:min(len(p), 4-len(e.head))]...)
		e.elf = string(e.head) == "\x7fELF"
	}
	n, err := e.w.Write(p)
	e.n += int64(n)
	return n, err
}
