package vm

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// writeInitramfs writes the gzip-compressed newc cpio archive the guest
// boots with:
//
//	/init                      the agent
//	/dev/console               character device 5:1, for init's stdio
//	/proc /sys /tmp            mount points
//	/boot/config-<release>     the kernel's config, for .kconfig externs
//	                           (Debian kernels have no /proc/config.gz)
//	/dpforge/request.json      the wire.Request
//	/dpforge/objects/<i>.o     the objects, by index in the request
//
// Entries are written in this fixed order with fixed metadata, so the same
// input gives the same archive.
func writeInitramfs(w io.Writer, agent []byte, k *Kernel, objects []Object) error {
	var config []byte
	if k.Config != "" {
		b, err := os.ReadFile(k.Config)
		if err != nil {
			return fmt.Errorf("reading kernel config: %w", err)
		}
		config = b
	}
	req := wire.Request{}
	objData := make([][]byte, len(objects))
	for i, o := range objects {
		b, err := os.ReadFile(o.Path)
		if err != nil {
			return fmt.Errorf("reading object %q: %w", o.Name, err)
		}
		objData[i] = b
		req.Objects = append(req.Objects, wire.ObjectRequest{
			Name:     o.Name,
			Path:     path.Join(wire.ObjectDir, strconv.Itoa(i)+".o"),
			Programs: o.Programs,
		})
	}
	reqJSON, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return err
	}

	// BestSpeed: the archive is written for every run, and the guest's
	// time to inflate it barely depends on the level.
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := newCPIOWriter(zw)
	for _, d := range []string{"dev", "proc", "sys", "tmp", "boot", "dpforge", wire.ObjectDir} {
		c.Dir(d, 0o755)
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("init", 0o755, agent)
	if config != nil {
		c.File("boot/config-"+k.Release, 0o644, config)
	}
	c.File(wire.RequestPath, 0o644, reqJSON)
	for i, b := range objData {
		c.File(req.Objects[i].Path, 0o644, b)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	return nil
}
