package compile

import (
	"fmt"
	"testing"
)

// TestParallelCompilesStress runs many cold compiles at once. Executing a
// file that was just written while other workers fork fails with "text file
// busy" (ETXTBSY: a forked child still holds the writer's descriptor until
// it execs); no compile may fail for any reason of that kind.
func TestParallelCompilesStress(t *testing.T) {
	if testing.Short() {
		t.Skip("many compiles; slow")
	}
	base := header(t, "base")
	var jobs []Job
	for i := range 64 {
		h := append(append([]byte(nil), base...), fmt.Sprintf("#define DPFORGE_STRESS_%d 1\n", i)...)
		jobs = append(jobs, Job{ID: fmt.Sprintf("s%02d", i), Header: h, CPU: "v3", Target: "bpfel"})
	}
	opts := newDirs(t).options()
	opts.Jobs = 32
	if res := mustBuild(t, jobs, opts); res.Compiled != len(jobs) {
		t.Fatalf("compiled %d of %d", res.Compiled, len(jobs))
	}
}
