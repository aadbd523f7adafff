package vm

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// cpioWriter writes the "newc" (SVR4, no CRC) cpio format the kernel
// unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst). Each entry is a 110-byte ASCII header, the NUL-ended
// name padded to 4 bytes, and the data padded to 4 bytes; the archive ends
// with the entry "TRAILER!!!".
//
// Only what an initramfs needs is supported: directories, regular files and
// device nodes, all owned by root, with modification time 0 so that the
// archive is a function of its content.
type cpioWriter struct {
	w      io.Writer
	n      int64 // bytes written, for padding
	ino    uint32
	closed bool
	err    error
}

// cpio mode bits (the high bits are the file type, as in stat(2)).
const (
	cpioDir     = 0o040000
	cpioReg     = 0o100000
	cpioChar    = 0o020000
	cpioMagic   = "070701"
	cpioTrailer = "TRAILER!!!"
)

func newCPIOWriter(w io.Writer) *cpioWriter { return &cpioWriter{w: w} }

// cpioHeader describes one entry.
type cpioHeader struct {
	Name string // relative slash path, no leading "/"
	// Mode is the file type bits (cpioDir, cpioReg, cpioChar) ORed with the
	// permission bits.
	Mode         uint32
	Size         int64
	Major, Minor uint32 // of a device node (rdev)
}

func (c *cpioWriter) header(h cpioHeader) {
	if c.err != nil {
		return
	}
	ino := uint32(0) // the trailer's, by convention
	if h.Name != cpioTrailer {
		c.ino++
		ino = c.ino
	}
	nlink := uint32(1)
	if h.Mode&0o170000 == cpioDir {
		nlink = 2
	}
	name := h.Name + "\x00"
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check: 8 hex digits each.
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		cpioMagic, ino, h.Mode, 0, 0, nlink, 0, uint32(h.Size), 0, 0, h.Major, h.Minor, len(name), 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.pad()
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm fs.FileMode) error {
	c.header(cpioHeader{Name: cleanCPIOName(name), Mode: cpioDir | uint32(perm.Perm())})
	return c.err
}

// File adds a regular file.
func (c *cpioWriter) File(name string, perm fs.FileMode, data []byte) error {
	if int64(len(data)) > 0xffffffff {
		return fmt.Errorf("cpio: %s is larger than 4 GiB", name)
	}
	c.header(cpioHeader{Name: cleanCPIOName(name), Mode: cpioReg | uint32(perm.Perm()), Size: int64(len(data))})
	c.write(data)
	c.pad()
	return c.err
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	c.header(cpioHeader{Name: cleanCPIOName(name), Mode: cpioChar | uint32(perm.Perm()), Major: major, Minor: minor})
	return c.err
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if c.closed {
		return c.err
	}
	c.closed = true
	c.header(cpioHeader{Name: cpioTrailer})
	return c.err
}

func cleanCPIOName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
