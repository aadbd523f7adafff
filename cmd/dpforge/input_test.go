package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFOMatrix: a named pipe given as the matrix is refused with a clear
// error in every command that reads one, instead of blocking forever.
func TestFIFOMatrix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Unblock a reader that hung, so the test binary can exit.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	for _, args := range [][]string{
		{"validate", path},
		{"explain", "-f", path},
		{"gen", "--out", filepath.Join(t.TempDir(), "h"), path},
		{"build", "-f", path, "--out", filepath.Join(t.TempDir(), "out")},
	} {
		var stdout, stderr bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(args, &stdout, &stderr) }()
		select {
		case code := <-done:
			all := stdout.String() + stderr.String()
			if code != exitProblems || !strings.Contains(all, "is not a regular file (a named pipe)") {
				t.Errorf("%q: exit %d, output %q; want 1 and a not-a-regular-file error", args, code, all)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q blocked on a FIFO", args)
		}
	}
}
