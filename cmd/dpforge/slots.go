package main

import (
	"slices"
	"sync"

	"github.com/dpforge/dpforge/features"
)

// slots lets at most n machines run at once; machines start in the order
// they queued. Under emulation every machine keeps a core busy, so on a
// small host the order decides how long a run takes: the longest jobs
// should start first, so that none is left running alone at the end.
type slots struct {
	mu    sync.Mutex
	free  int
	queue []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: max(n, 1)} }

// enqueue queues a machine and returns a channel closed when it may
// start: at once when a slot is free and nobody waits.
func (s *slots) enqueue() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.free > 0 && len(s.queue) == 0 {
		s.free--
		close(ch)
		return ch
	}
	s.queue = append(s.queue, ch)
	return ch
}

// release ends a machine that enqueue let start, starting the next one.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		s.free++
		return
	}
	close(s.queue[0])
	s.queue = s.queue[1:]
}

// oldestSeries is the oldest kernel series of a run ("" for none); an
// unknown one counts as newest.
func oldestSeries(series []string) string {
	oldest, ov := "", features.Version{}
	for _, s := range series {
		if v, err := features.ParseVersion(s); err == nil && (oldest == "" || v.Compare(ov) < 0) {
			oldest, ov = s, v
		}
	}
	return oldest
}

// turns orders the kernels' queueing: newest series first, since the
// newest verifiers do the most work on the same objects (on the default
// matrix 6.19's loads take about three times 6.12's). turns[i] is closed
// when series[i] may queue its machines; pass(i) lets the next one queue,
// once series[i] has queued all of its own or given up.
type turns struct {
	ch   []chan struct{}
	next []int // the series after i in turn order, -1 for the last
	once []sync.Once
}

func newTurns(series []string) *turns {
	order := make([]int, len(series))
	for i := range order {
		order[i] = i
	}
	version := func(s string) features.Version {
		v, _ := features.ParseVersion(s) // an unknown series goes last
		return v
	}
	slices.SortStableFunc(order, func(a, b int) int { return version(series[b]).Compare(version(series[a])) })
	t := &turns{ch: make([]chan struct{}, len(series)), next: make([]int, len(series)), once: make([]sync.Once, len(series))}
	for i := range t.ch {
		t.ch[i] = make(chan struct{})
	}
	for k, i := range order {
		t.next[i] = -1
		if k+1 < len(order) {
			t.next[i] = order[k+1]
		}
	}
	if len(order) > 0 {
		close(t.ch[order[0]])
	}
	return t
}

// wait returns when series i may queue.
func (t *turns) wait(i int) { <-t.ch[i] }

// pass gives the turn on; further calls for i do nothing.
func (t *turns) pass(i int) {
	t.once[i].Do(func() {
		if n := t.next[i]; n >= 0 {
			close(t.ch[n])
		}
	})
}
