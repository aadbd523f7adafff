package vm

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

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
//	/dpforge/scenarios/<i>.yaml  the scenarios, by index in the request
//	extra files                at their paths (modules, tools, the
//	                           traffic suite), after their directories
//
// Entries are written in this fixed order with fixed metadata, so the same
// input gives the same archive. req carries what the request holds beyond
// objects, scenarios and the probe (modules, traffic).
func writeInitramfs(w io.Writer, agent []byte, k *Kernel, objects []Object, probe bool, req wire.Request, extra []GuestFile) error {
	var config []byte
	if k.Config != "" {
		b, err := os.ReadFile(k.Config)
		if err != nil {
			return fmt.Errorf("reading kernel config: %w", err)
		}
		config = b
	}
	req.Probe = probe
	files := scenarioFiles(objects)
	index := map[string]int{}
	scenarioData := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading scenario: %w", err)
		}
		scenarioData[i], index[f] = b, i
		req.Scenarios = append(req.Scenarios, path.Join(wire.ScenarioDir, strconv.Itoa(i)+".yaml"))
	}
	objData := make([][]byte, len(objects))
	for i, o := range objects {
		b, err := os.ReadFile(o.Path)
		if err != nil {
			return fmt.Errorf("reading object %q: %w", o.Name, err)
		}
		objData[i] = b
		or := wire.ObjectRequest{
			Name:     o.Name,
			Path:     path.Join(wire.ObjectDir, strconv.Itoa(i)+".o"),
			Programs: o.Programs,
		}
		for _, f := range o.Scenarios {
			or.Scenarios = append(or.Scenarios, index[f])
		}
		req.Objects = append(req.Objects, or)
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
	for _, d := range []string{"dev", "proc", "sys", "tmp", "boot", "dpforge", wire.ObjectDir, wire.ScenarioDir} {
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
	for i, b := range scenarioData {
		c.File(req.Scenarios[i], 0o644, b)
	}
	if err := writeExtra(c, extra); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	return nil
}

// writeExtra writes files, each after the directories above it that are
// not written yet, in path order.
func writeExtra(c *cpioWriter, files []GuestFile) error {
	files = slices.SortedFunc(slices.Values(files), func(a, b GuestFile) int { return strings.Compare(a.Path, b.Path) })
	dirs := map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true, "boot": true, "dpforge": true}
	for i, f := range files {
		if i > 0 && files[i-1].Path == f.Path {
			return fmt.Errorf("writing initramfs: %s is given twice", f.Path)
		}
		var parents []string
		for d := path.Dir(f.Path); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for _, d := range slices.Backward(parents) {
			c.Dir(d, 0o755)
		}
		data, err := os.ReadFile(f.Host)
		if err != nil {
			return fmt.Errorf("writing initramfs: %w", err)
		}
		c.File(f.Path, f.Mode, data)
	}
	return nil
}
