package vm

import (
	"errors"
	"os"
)

// GuestFile is a file to put into the guest's initramfs.
type GuestFile struct {
	// Path is the path inside the guest: relative, slash-separated.
	Path string
	// Mode is the file's permission bits.
	Mode os.FileMode
	// Host is the file on the host holding the content.
	Host string
}

// TrafficModules are placeholders until the kernel keeps its modules.
var TrafficModules = []string{"veth", "bridge", "vxlan", "geneve", "sch_fq", "sch_ingress", "cls_bpf"}

func (k *Kernel) ModuleFiles(names []string) ([]GuestFile, error) { return nil, errors.New("not yet") }

func HostTools(names ...string) ([]GuestFile, error) { return nil, errors.New("not yet") }
