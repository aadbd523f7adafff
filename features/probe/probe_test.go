package probe

import (
	"os"
	"testing"

	"github.com/dpforge/dpforge/features"
)

func TestRunOnThisKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: probing BPF features needs root; run the tests as root (CI does)")
	}
	r, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s: %d capabilities decided, %d inconclusive %v", r.Release, len(r.Capabilities), len(r.Inconclusive), r.Inconclusive)
	if len(r.Inconclusive) > 0 {
		t.Errorf("inconclusive probes on a root test run: %v", r.Inconclusive)
	}
	// Whatever the kernel, a probe must agree with the documented minimums
	// for the capabilities every supported kernel has.
	for _, c := range []features.Capability{features.CapSchedCLS, features.CapLRUHash, features.CapLPMTrie, features.CapFibLookup} {
		if !r.Capabilities[c] {
			t.Errorf("%s: probe says no", c)
		}
	}
	// And on a kernel at or past 5.10 the host-routing helpers are there.
	if r.Version.AtLeast(features.V(5, 10, 0)) && (!r.Capabilities[features.CapRedirectPeer] || !r.Capabilities[features.CapRedirectNeigh]) {
		t.Errorf("kernel %s lacks redirect helpers per probe: %v", r.Release, r.Capabilities)
	}
	if r.Version.AtLeast(features.V(6, 6, 0)) != r.Capabilities[features.CapTCX] {
		t.Errorf("TCX probe %v disagrees with version %s", r.Capabilities[features.CapTCX], r.Version)
	}
}
