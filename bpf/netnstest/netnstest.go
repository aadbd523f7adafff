// Package netnstest gives tests network namespaces of their own, each
// owned by one locked OS thread: sockets opened, netlink calls made and
// commands forked from work sent to it belong to that namespace. A
// namespace has no name that could collide with another test or leak; it
// goes, with every device, route, qdisc and TCX link in it, when its
// thread exits at the test's cleanup.
package netnstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// An NS is a goroutine locked to an OS thread in a network namespace of
// its own.
type NS struct {
	Name string // for messages
	TID  int    // the thread's id: "netns TID" in ip(8) moves devices here
	work chan func()
	done chan struct{}
}

// New makes a network namespace with its loopback up, removed when t's
// test ends.
func New(t testing.TB, name string) *NS {
	t.Helper()
	ns := &NS{Name: name, work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error)
	go func() {
		defer close(ns.done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ns.TID = syscall.Gettid()
		ready <- nil
		for f := range ns.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("new network namespace %s: %v", name, err)
	}
	t.Cleanup(func() { close(ns.work); <-ns.done })
	if err := ns.IP("link set lo up"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// Do runs f in the namespace.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error)
	ns.work <- func() { errc <- f() }
	return <-errc
}

// IP runs ip(8) commands in the namespace, one after another, each split
// on spaces.
func (ns *NS) IP(cmds ...string) error {
	return ns.Do(func() error {
		for _, c := range cmds {
			if out, err := exec.Command("ip", strings.Fields(c)...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: ip %s: %v: %s", ns.Name, c, err, bytes.TrimSpace(out))
			}
		}
		return nil
	})
}

// Sysctl sets sysctls in the namespace: pairs of a /proc/sys path and its
// value.
func (ns *NS) Sysctl(kv ...string) error {
	return ns.Do(func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := os.WriteFile("/proc/sys/"+kv[i], []byte(kv[i+1]), 0o644); err != nil {
				return fmt.Errorf("%s: sysctl %s: %w", ns.Name, kv[i], err)
			}
		}
		return nil
	})
}

// Link returns a device's index and MAC address.
func (ns *NS) Link(name string) (ifindex int, mac net.HardwareAddr, err error) {
	err = ns.Do(func() error {
		iface, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("%s: %w", ns.Name, err)
		}
		ifindex, mac = iface.Index, iface.HardwareAddr
		return nil
	})
	return
}
