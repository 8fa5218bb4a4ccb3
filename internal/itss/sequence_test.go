package itss

import (
	"reflect"
	"testing"
)

func ptr(s string) *string { return &s }

func TestParseSequence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     *string
		want   []string
		legacy bool
		err    bool
	}{
		{"nil is empty", nil, []string{}, false, false},
		{"blank is empty", ptr("  "), []string{}, false, false},
		{"json empty", ptr("[]"), []string{}, false, false},
		{"json", ptr(`["a1", "b2"]`), []string{"a1", "b2"}, false, false},
		{"python repr is legacy", ptr(`['a1', 'b2']`), []string{"a1", "b2"}, true, false},
		{"garbage is an error", ptr(`{x`), nil, false, true},
		{"json null is empty", ptr(`null`), []string{}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, legacy, err := ParseSequence(c.in)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if !c.err && (!reflect.DeepEqual(got, c.want) || legacy != c.legacy) {
				t.Fatalf("got %v legacy=%v, want %v legacy=%v", got, legacy, c.want, c.legacy)
			}
		})
	}
}

func TestFormatSequenceMatchesPythonJSONDumps(t *testing.T) {
	t.Parallel()
	if got := FormatSequence(nil); got != "[]" {
		t.Fatalf("empty = %q", got)
	}
	if got := FormatSequence([]string{"a", "b"}); got != `["a", "b"]` {
		t.Fatalf("got %q", got)
	}
}
