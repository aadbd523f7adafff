package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/generator/vm/internal/wire"
)

// loadModules loads the modules in order with finit_module and returns the
// names the kernel took; a module it already has counts as taken. A
// failure is a warning: the cases that need the module say so themselves.
func loadModules(paths []string) []string {
	var loaded []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".ko")
		if err := loadModule(p); err != nil {
			warn("loading module %s: %v", name, err)
			continue
		}
		loaded = append(loaded, name)
	}
	return loaded
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// tailLines is how much of the suite's output the Traffic record keeps.
const tailLines = 200

// runTraffic runs the traffic suite's binary, copies its output to the
// console line by line, and collects the cases it recorded.
func runTraffic(req *wire.TrafficRequest) (res wire.Traffic) {
	start := time.Now()
	res.ExitCode = -1
	// Named result: the deferred time lands in what is returned.
	defer func() { res.Millis = time.Since(start).Milliseconds() }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(req.TimeoutSec)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, req.Binary, req.Args...)
	cmd.Env = req.Env
	cmd.Dir = "/tmp"
	cmd.WaitDelay = 5 * time.Second
	pr, pw, err := os.Pipe()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		res.Error = fmt.Sprintf("starting %s: %v", req.Binary, err)
		return res
	}
	pw.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(os.Stdout, "%s%s\n", wire.TestPrefix, line)
			res.Tail = append(res.Tail, line)
			if len(res.Tail) > tailLines {
				res.Tail = res.Tail[len(res.Tail)-tailLines:]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	werr := cmd.Wait()
	<-copied
	pr.Close()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Error = fmt.Sprintf("the suite did not finish in %d s and was killed", req.TimeoutSec)
	case werr != nil && cmd.ProcessState == nil:
		res.Error = werr.Error()
	}
	if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	cases, err := readCases(req.Record)
	if err != nil && res.Error == "" {
		res.Error = err.Error()
	}
	res.Cases = cases
	return res
}

// readCases reads the suite's record: one JSON object per line. A line
// cut short (the binary was killed while writing) ends the record.
func readCases(path string) ([]wire.TrafficCase, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the suite's record: %w", err)
	}
	var cases []wire.TrafficCase
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var c wire.TrafficCase
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return cases, fmt.Errorf("the suite's record has a bad line %q: %w", line, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}
