package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AttachMode is how programs are put on a device's tc hooks.
type AttachMode string

// Attach modes.
const (
	// AttachTCX uses TCX links (Linux 6.6), pinned so that they outlive
	// the loader; a program is swapped with a link update.
	AttachTCX AttachMode = "tcx"
	// AttachTC uses a clsact qdisc and a direct-action cls_bpf filter at a
	// fixed handle and priority; a program is swapped with a filter
	// replace at that handle and priority.
	AttachTC AttachMode = "tc"
)

// Set implements pflag.Value.
func (m *AttachMode) Set(s string) error {
	switch AttachMode(s) {
	case AttachTCX, AttachTC, "":
		*m = AttachMode(s)
		return nil
	}
	return fmt.Errorf("attach mode %q: want %q or %q", s, AttachTCX, AttachTC)
}

func (m *AttachMode) String() string { return string(*m) }

// Type implements pflag.Value.
func (m *AttachMode) Type() string { return "tcx|tc" }

// Direction is the side of a device a program runs on.
type Direction string

// Directions of a hook.
const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// The tc filter every dpforge program is installed as: one fixed handle and
// priority per direction, so a replace hits exactly the filter an attach
// made and never stacks a second one.
const (
	tcHandle   = 0xd9f0
	tcPriority = 1
)

// Hook is one program on one side of one device.
type Hook struct {
	Device    string     `json:"device"`
	Ifindex   int        `json:"ifindex"`
	Direction Direction  `json:"direction"`
	Program   string     `json:"program"`
	Mode      AttachMode `json:"mode"`
	// Link is the bpffs path of the pinned TCX link (mode tcx).
	Link string `json:"link,omitempty"`
	// Qdisc is true when the loader created the device's clsact qdisc
	// (mode tc), so detaching removes it again.
	Qdisc bool `json:"qdisc,omitempty"`
}

func (h Hook) String() string {
	return fmt.Sprintf("%s %s on %s", h.Program, h.Direction, h.Device)
}

// linkPath is where a TCX link of h is pinned under dir.
func linkPath(dir string, h Hook) string {
	return filepath.Join(dir, "links", fmt.Sprintf("%s-%s", h.Device, h.Direction))
}

// attachHook puts prog on h's device. h.Mode must be set; the returned
// hook records what has to be undone.
func attachHook(dir string, h Hook, prog *ebpf.Program) (Hook, error) {
	iface, err := netlink.LinkByName(h.Device)
	if err != nil {
		return h, fmt.Errorf("attaching %s: device %q: %w", h.Program, h.Device, err)
	}
	h.Ifindex = iface.Attrs().Index
	switch h.Mode {
	case AttachTCX:
		at := ebpf.AttachTCXIngress
		if h.Direction == Egress {
			at = ebpf.AttachTCXEgress
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: h.Ifindex, Program: prog, Attach: at})
		if err != nil {
			return h, fmt.Errorf("attaching %s: %w", h, err)
		}
		defer l.Close()
		h.Link = linkPath(dir, h)
		if err := os.MkdirAll(filepath.Dir(h.Link), 0o700); err != nil {
			return h, fmt.Errorf("attaching %s: %w", h, err)
		}
		if err := pinReplace(h.Link, l.Pin); err != nil {
			return h, fmt.Errorf("attaching %s: pinning link: %w", h, err)
		}
		return h, nil
	case AttachTC:
		created, err := ensureClsact(iface)
		if err != nil {
			return h, fmt.Errorf("attaching %s: %w", h, err)
		}
		h.Qdisc = created
		if err := netlink.FilterReplace(tcFilter(h, prog)); err != nil {
			if created {
				netlink.QdiscDel(clsact(h.Ifindex))
			}
			return h, fmt.Errorf("attaching %s: tc filter: %w", h, err)
		}
		return h, nil
	}
	return h, fmt.Errorf("attaching %s: unknown attach mode %q", h, h.Mode)
}

// swapHook replaces the program on an attached hook atomically: there is
// no moment without a program.
func swapHook(h Hook, prog *ebpf.Program) error {
	switch h.Mode {
	case AttachTCX:
		l, err := link.LoadPinnedLink(h.Link, nil)
		if err != nil {
			return fmt.Errorf("swapping %s: loading link: %w", h, err)
		}
		defer l.Close()
		if err := l.Update(prog); err != nil {
			return fmt.Errorf("swapping %s: %w", h, err)
		}
		return nil
	case AttachTC:
		iface, err := netlink.LinkByIndex(h.Ifindex)
		if err != nil || iface.Attrs().Name != h.Device {
			return fmt.Errorf("swapping %s: device %q is gone", h, h.Device)
		}
		if err := netlink.FilterReplace(tcFilter(h, prog)); err != nil {
			return fmt.Errorf("swapping %s: tc filter: %w", h, err)
		}
		return nil
	}
	return fmt.Errorf("swapping %s: unknown attach mode %q", h, h.Mode)
}

// detachHook removes what attachHook put on a device. A device that is
// already gone took its hooks with it and is not an error.
func detachHook(h Hook) error {
	switch h.Mode {
	case AttachTCX:
		l, err := link.LoadPinnedLink(h.Link, nil)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("detaching %s: %w", h, err)
		}
		defer l.Close()
		// Unpinning drops the last reference the loader holds; closing
		// detaches even if someone else still has the pin open.
		if err := l.Unpin(); err != nil {
			return fmt.Errorf("detaching %s: %w", h, err)
		}
		if err := l.Detach(); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("detaching %s: %w", h, err)
		}
		return nil
	case AttachTC:
		iface, err := netlink.LinkByIndex(h.Ifindex)
		if err != nil || iface.Attrs().Name != h.Device {
			return nil // the device went, and its qdisc and filters with it
		}
		f := tcFilter(h, nil)
		if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detaching %s: %w", h, err)
		}
		if h.Qdisc && !hasFilters(iface) {
			// The loader added the clsact qdisc, and the last of its
			// filters is gone: the qdisc goes too.
			if err := netlink.QdiscDel(clsact(h.Ifindex)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("detaching %s: removing clsact: %w", h, err)
			}
		}
		return nil
	}
	return fmt.Errorf("detaching %s: unknown attach mode %q", h, h.Mode)
}

// hookProgramID returns the id of the program currently on h, or an error
// if h is not attached any more.
func hookProgramID(h Hook) (ebpf.ProgramID, error) {
	switch h.Mode {
	case AttachTCX:
		l, err := link.LoadPinnedLink(h.Link, nil)
		if err != nil {
			return 0, err
		}
		defer l.Close()
		info, err := l.Info()
		if err != nil {
			return 0, err
		}
		return info.Program, nil
	case AttachTC:
		iface, err := netlink.LinkByIndex(h.Ifindex)
		if err != nil || iface.Attrs().Name != h.Device {
			return 0, fmt.Errorf("device %q is gone", h.Device)
		}
		filters, err := netlink.FilterList(iface, tcParent(h.Direction))
		if err != nil {
			return 0, err
		}
		for _, f := range filters {
			if bf, ok := f.(*netlink.BpfFilter); ok && bf.Handle == tcHandle && bf.Priority == tcPriority {
				return ebpf.ProgramID(bf.Id), nil
			}
		}
		return 0, fmt.Errorf("no dpforge filter on %s %s", h.Device, h.Direction)
	}
	return 0, fmt.Errorf("unknown attach mode %q", h.Mode)
}

func tcParent(d Direction) uint32 {
	if d == Egress {
		return netlink.HANDLE_MIN_EGRESS
	}
	return netlink.HANDLE_MIN_INGRESS
}

func tcFilter(h Hook, prog *ebpf.Program) *netlink.BpfFilter {
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: h.Ifindex,
			Parent:    tcParent(h.Direction),
			Handle:    tcHandle,
			Priority:  tcPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		Name:         "dpforge-" + h.Program,
		DirectAction: true,
	}
	if prog != nil {
		f.Fd = prog.FD()
	}
	return f
}

// hasFilters reports whether iface has tc filters on either direction.
func hasFilters(iface netlink.Link) bool {
	for _, d := range []Direction{Ingress, Egress} {
		if fs, err := netlink.FilterList(iface, tcParent(d)); err == nil && len(fs) > 0 {
			return true
		}
	}
	return false
}

func clsact(ifindex int) *netlink.GenericQdisc {
	return &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifindex,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
}

// ensureClsact adds a clsact qdisc to iface unless it has one, and says
// whether it added it.
func ensureClsact(iface netlink.Link) (bool, error) {
	qdiscs, err := netlink.QdiscList(iface)
	if err != nil {
		return false, fmt.Errorf("listing qdiscs: %w", err)
	}
	for _, q := range qdiscs {
		if q.Type() == "clsact" {
			return false, nil
		}
	}
	if err := netlink.QdiscAdd(clsact(iface.Attrs().Index)); err != nil && !errors.Is(err, unix.EEXIST) {
		return false, fmt.Errorf("adding clsact qdisc: %w", err)
	}
	return true, nil
}

// pinReplace pins an object at path, replacing what is pinned there: pin
// to a temporary name, then rename over path, so path always holds either
// the old or the new object.
func pinReplace(path string, pin func(string) error) error {
	tmp := path + "_new" // bpffs refuses names with a dot
	os.Remove(tmp)
	if err := pin(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
