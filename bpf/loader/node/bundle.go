package node

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"
)

// A loader binary carries a build as a trailer: the dpload executable,
// then a zip archive of the build (manifest.json and the objects it
// names), then 8 bytes of archive length (little endian) and the 8-byte
// magic below. The executable runs unchanged (the trailer is past the
// end of its ELF segments), and the archive is read back through
// os.Executable. The archive is deterministic: entries sorted, stored
// uncompressed, with a fixed time, so the same build gives the same bytes.

const bundleMagic = "DPLOAD\x00\x01"

const trailerSize = 16

// bundleTime is the fixed modification time of every archive entry.
var bundleTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteBundle writes exe followed by the build in dir (its manifest.json
// and every object the manifest names) to w.
func WriteBundle(w io.Writer, exe []byte, dir string) error {
	b, err := OpenBuild(dir)
	if err != nil {
		return err
	}
	if _, _, err := splitBundle(exe); err == nil {
		return fmt.Errorf("the loader executable already carries a build")
	}
	files := []string{"manifest.json"}
	for _, v := range b.Manifest.Variants {
		files = append(files, path.Clean(v.Object))
	}
	slices.Sort(files)
	files = slices.Compact(files)
	var archive bytes.Buffer
	zw := zip.NewWriter(&archive)
	for _, name := range files {
		data, err := fs.ReadFile(b.fsys, name)
		if err != nil {
			return fmt.Errorf("bundling build: %w", err)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: bundleTime})
		if err != nil {
			return fmt.Errorf("bundling build: %w", err)
		}
		if _, err := fw.Write(data); err != nil {
			return fmt.Errorf("bundling build: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundling build: %w", err)
	}
	var trailer [trailerSize]byte
	binary.LittleEndian.PutUint64(trailer[:8], uint64(archive.Len()))
	copy(trailer[8:], bundleMagic)
	for _, part := range [][]byte{exe, archive.Bytes(), trailer[:]} {
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("writing loader: %w", err)
		}
	}
	return nil
}

// errNoBundle means the file carries no build.
var errNoBundle = errors.New("no embedded build")

// splitBundle finds the archive in a loader file's bytes.
func splitBundle(file []byte) (exe, archive []byte, err error) {
	if len(file) < trailerSize || string(file[len(file)-8:]) != bundleMagic {
		return file, nil, errNoBundle
	}
	n := binary.LittleEndian.Uint64(file[len(file)-trailerSize:])
	if n > uint64(len(file)-trailerSize) {
		return nil, nil, fmt.Errorf("embedded build: corrupt trailer (archive of %d bytes in a %d-byte file)", n, len(file))
	}
	end := len(file) - trailerSize
	return file[:end-int(n)], file[end-int(n) : end], nil
}

// OpenBundle reads the build embedded in the loader file at path; it
// returns nil and no error when the file carries none.
func OpenBundle(path string) (*Build, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading embedded build: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading embedded build: %w", err)
	}
	if fi.Size() < trailerSize {
		return nil, nil
	}
	var trailer [trailerSize]byte
	if _, err := f.ReadAt(trailer[:], fi.Size()-trailerSize); err != nil {
		return nil, fmt.Errorf("reading embedded build: %w", err)
	}
	if string(trailer[8:]) != bundleMagic {
		return nil, nil
	}
	n := int64(binary.LittleEndian.Uint64(trailer[:8]))
	if n <= 0 || n > fi.Size()-trailerSize {
		return nil, fmt.Errorf("reading embedded build: corrupt trailer")
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, fi.Size()-trailerSize-n); err != nil {
		return nil, fmt.Errorf("reading embedded build: %w", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), n)
	if err != nil {
		return nil, fmt.Errorf("reading embedded build: %w", err)
	}
	return NewBuild(zr, "embedded")
}
