package main

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestSlotsStartInQueueOrder(t *testing.T) {
	s := newSlots(2)
	a, b, c, d := s.enqueue(), s.enqueue(), s.enqueue(), s.enqueue()
	if !closed(a) || !closed(b) || closed(c) || closed(d) {
		t.Fatalf("two slots: started a %v b %v c %v d %v, want a and b", closed(a), closed(b), closed(c), closed(d))
	}
	s.release()
	if !closed(c) || closed(d) {
		t.Fatalf("after one release: c %v d %v, want c only", closed(c), closed(d))
	}
	s.release()
	s.release()
	s.release()
	// Every slot is free again: the next two start at once.
	if e, f, g := s.enqueue(), s.enqueue(), s.enqueue(); !closed(e) || !closed(f) || closed(g) {
		t.Fatalf("after all released: %v %v %v, want two started", closed(e), closed(f), closed(g))
	}
}

func TestTurnsNewestFirst(t *testing.T) {
	series := []string{"5.10", "6.1", "6.12", "bogus", "7.3", "6.19"}
	tr := newTurns(series)
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for i, s := range series {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.wait(i)
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
			tr.pass(i)
			tr.pass(i) // a second pass changes nothing
		}()
	}
	wg.Wait()
	want := []string{"7.3", "6.19", "6.12", "6.1", "5.10", "bogus"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queueing order (-want +got):\n%s", diff)
	}
}

func TestOldestSeries(t *testing.T) {
	for _, tc := range []struct {
		series []string
		want   string
	}{
		{[]string{"7.3", "6.19", "5.10", "6.1"}, "5.10"},
		{[]string{"6.12"}, "6.12"},
		{[]string{"bogus", "6.1", "6.12"}, "6.1"},
		{nil, ""},
	} {
		if got := oldestSeries(tc.series); got != tc.want {
			t.Errorf("oldestSeries(%q) = %q, want %q", tc.series, got, tc.want)
		}
	}
}
