package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadInputRefusesFIFO: a named pipe with no writer must be refused at
// once, not block the reader forever.
func TestReadInputRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadInput(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
			t.Fatalf("ReadInput(fifo) = %v, want a not-a-regular-file error", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader so the test binary can exit.
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("ReadFile blocked on a FIFO")
	}
}

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	os.WriteFile(ok, []byte("nodes: []\n"), 0o644)
	if data, err := ReadInput(ok); err != nil || string(data) != "nodes: []\n" {
		t.Fatalf("ReadInput(regular) = %q, %v", data, err)
	}
	if _, err := ReadInput(dir); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Fatalf("ReadInput(dir) = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644)
	if _, err := ReadInput(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("ReadInput(big) = %v", err)
	}
}
