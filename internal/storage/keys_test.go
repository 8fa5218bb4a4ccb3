package storage

import (
	"path"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

func TestValidSectionID(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"67bc56ba8e8245c9aa2d8b294ed68bf9":     true,
		"67BC56BA8E8245C9AA2D8B294ED68BF9":     true,
		"7c5ffd1b-9067-45e6-9495-db857bc62d03": true,
		"":                                     false,
		"..":                                   false,
		"67bc56ba8e8245c9aa2d8b294ed68bf":      false, // 31
		"67bc56ba8e8245c9aa2d8b294ed68bf90":    false, // 33
		"67bc56ba8e8245c9aa2d8b294ed68bfg":     false,
		"67bc56ba8e8245c9aa2d8b294ed68b/9":     false,
		"67bc56ba8e8245c9aa2d8b294ed6.bf9":     false,
		"67bc56ba8e8245c9aa2d8b294ed68b\x00f":  false,
		"7c5ffd1b9-067-45e6-9495-db857bc62d03": false, // dash misplaced
		"7c5ffd1b-9067-45e6-9495/db857bc62d03": false,
		"../../../../../../../etc/passwd00000": false, // 36 chars
		"67bc56ba8e8245c9aa2d8b294ed68b%2F":    false,
		"６７bc56ba8e8245c9aa2d8b294ed68bf9":     false, // full-width digits
	}
	for id, want := range cases {
		if got := ValidSectionID(id); got != want {
			t.Errorf("ValidSectionID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidFileNameAcceptsOnlyTheAllowList(t *testing.T) {
	t.Parallel()
	for _, n := range FileNames() {
		if !ValidFileName(n) {
			t.Errorf("allow-listed %q rejected", n)
		}
	}
	if len(FileNames()) != 14 {
		t.Errorf("allow-list has %d names, want 14", len(FileNames()))
	}
	for _, n := range []string{"", ".", "..", "layout.json", "Recording.wav", "recording.wav ", " recording.wav",
		"../recording.wav", "recording.wav/", "recording.wav\x00", "a b.wav", "nothere.wav", ".complete", ".tmp-1",
		"%2e%2e%2frecording.wav", "recording.wav/../description.md", strings.Repeat("a", 4096)} {
		if ValidFileName(n) {
			t.Errorf("ValidFileName(%q) = true", n)
		}
	}
}

func TestLayoutKeyRejectsBadCoordinates(t *testing.T) {
	t.Parallel()
	if k, err := layoutKey(6, tutID, "learner"); err != nil || k != "6/"+tutID+"/learner/layout.json" {
		t.Fatalf("layoutKey = %q, %v", k, err)
	}
	bad := []struct {
		uid  int64
		tid  string
		role string
	}{
		{0, tutID, "learner"}, {-1, tutID, "learner"}, {6, "..", "learner"}, {6, tutID, "admin"},
		{6, tutID, "Author"}, {6, tutID, "../learner"}, {6, tutID, ""}, {6, tutID + "/x", "author"},
	}
	for _, c := range bad {
		if _, err := layoutKey(c.uid, c.tid, c.role); !itss.IsCode(err, itss.CodeInvalid) {
			t.Errorf("layoutKey(%d, %q, %q) = %v, want Invalid", c.uid, c.tid, c.role, err)
		}
	}
}

// FuzzKeys checks that whatever the key validators accept is a clean,
// relative, two- or four-segment path that cannot leave a root.
func FuzzKeys(f *testing.F) {
	f.Add(secA, "recording.wav", int64(6), "learner")
	f.Add(secDashed, "description.md", int64(1), "author")
	f.Add("..", "../recording.wav", int64(0), "../x")
	f.Add("67bc56ba8e8245c9aa2d8b294ed68bf9/..", "recording.wav\x00", int64(-5), "author/")
	f.Add(strings.Repeat("a", 32), "%2e%2e%2f", int64(1)<<62, "learner")
	f.Fuzz(func(t *testing.T, id, name string, uid int64, role string) {
		check := func(k string, segs int) {
			if k == "" || path.IsAbs(k) || path.Clean(k) != k || strings.Contains(k, "..") ||
				strings.ContainsAny(k, "\x00\\%") || strings.Count(k, "/") != segs-1 {
				t.Fatalf("unsafe key %q", k)
			}
			for _, seg := range strings.Split(k, "/") {
				if seg == "" || seg[0] == '.' {
					t.Fatalf("key %q has segment %q", k, seg)
				}
			}
		}
		if k, err := fileKey(id, name); err == nil {
			check(k, 2)
			if k != id+"/"+name {
				t.Fatalf("fileKey changed the key: %q", k)
			}
		} else if !itss.IsCode(err, itss.CodeInvalid) {
			t.Fatalf("fileKey error %v is not Invalid", err)
		}
		if k, err := layoutKey(uid, id, role); err == nil {
			check(k, 4)
		} else if !itss.IsCode(err, itss.CodeInvalid) {
			t.Fatalf("layoutKey error %v is not Invalid", err)
		}
		if ValidSectionID(id) && len(id) != 32 && len(id) != 36 {
			t.Fatalf("accepted id of length %d", len(id))
		}
	})
}
