package httpapi

import (
	"errors"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

func TestDecodeBytesEmptyBodyIsRecognisable(t *testing.T) {
	t.Parallel()
	var v map[string]any
	for _, body := range []string{"", "  \n\t"} {
		err := DecodeBytes([]byte(body), &v)
		if !errors.Is(err, ErrEmptyBody) || !itss.IsCode(err, itss.CodeInvalid) {
			t.Fatalf("DecodeBytes(%q) = %v, want ErrEmptyBody with CodeInvalid", body, err)
		}
	}
}

func TestDecodeBytesNestedFieldNamed(t *testing.T) {
	t.Parallel()
	var v struct {
		Question struct {
			Options []string `json:"options"`
		} `json:"question"`
	}
	err := DecodeBytes([]byte(`{"question":{"options":[1]}}`), &v)
	if itss.ErrorMessage(err) != `Field "question.options" must be a string` {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeBytesNonPointerIsAProgrammingError(t *testing.T) {
	t.Parallel()
	var v map[string]any
	err := DecodeBytes([]byte(`{}`), v)
	if err == nil || itss.ErrorCode(err) != itss.CodeInternal {
		t.Fatalf("err = %v, want an internal error", err)
	}
}

func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{"name":5}`, `[`, ``, `{} {}`, `{"tags":["x",1]}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Name  string         `json:"name"`
			Count int            `json:"count"`
			Tags  []string       `json:"tags"`
			Any   map[string]any `json:"any"`
		}
		err := DecodeBytes(body, &v)
		// Whatever the client sends is either accepted or a 400, never a 500.
		if err != nil && !itss.IsCode(err, itss.CodeInvalid) {
			t.Fatalf("DecodeBytes(%q) = %v, not a client error", body, err)
		}
	})
}
