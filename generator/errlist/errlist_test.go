package errlist

import (
	"errors"
	"fmt"
	"testing"
)

type detailed struct{}

func (detailed) Error() string { return "summary" }

func (detailed) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, "summary")
	if f.Flag('+') {
		fmt.Fprint(f, "\nfull log")
	}
}

// TestJoin: %+v of a joined error prints every part in full, and the parts
// can be taken apart again.
func TestJoin(t *testing.T) {
	joined := Join(errors.New("other"), nil, detailed{})
	if got, want := fmt.Sprintf("%+v", joined), "other\nsummary\nfull log"; got != want {
		t.Errorf("%%+v = %q, want %q", got, want)
	}
	if got, want := joined.Error(), "other\nsummary"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var d detailed
	if !errors.As(joined, &d) || len(Flatten(joined)) != 2 {
		t.Errorf("joined error hides its parts: %v", Flatten(joined))
	}
	if n := len(Flatten(errors.Join(joined, errors.New("third")))); n != 3 {
		t.Errorf("nested: %d parts, want 3", n)
	}
	if Join() != nil || Join(nil, nil) != nil {
		t.Errorf("Join of nothing is not nil")
	}
}
