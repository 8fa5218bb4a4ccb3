package storage

import (
	"path"
	"slices"
	"strconv"

	"github.com/itss-go/itss/internal/itss"
)

// Every key that reaches a disk path or an S3 object name is checked here and
// nowhere else, before any I/O. The rules are allow-lists, not deny-lists: an id
// is hex (optionally dashed like a UUID), a user id is a positive integer, a role
// is one of two words and a file name one of a fixed set. None of them can hold a
// separator, a dot segment, an escape or a NUL, so a key can never leave its root.

// fileNames are the only files a section may hold: those the original wrote in
// /upload_recording and section updates. Anything else (including the hidden
// names this package uses for staging and markers) is never listed or served.
var fileNames = map[string]bool{
	"description.md":           true,
	"code_content.txt":         true,
	"recording.wav":            true,
	"transcript.json":          true,
	"question.json":            true,
	"keystroke.json":           true,
	"consoleAction.json":       true,
	"consoleScrollAction.json": true,
	"inputKeystrokes.json":     true,
	"inputScrollAction.json":   true,
	"layoutAction.json":        true,
	"selectAction.json":        true,
	"scrollAction.json":        true,
	"editorScrollAction.json":  true,
}

// FileNames returns the allow-list of section file names, sorted.
func FileNames() []string {
	out := make([]string, 0, len(fileNames))
	for n := range fileNames {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// layoutFile is the one file name under a layout key, as the original wrote it.
const layoutFile = "layout.json"

// ValidSectionID reports whether id can name a section folder or key prefix:
// 32 hex digits (uuid4().hex, as the original generates) or the 36-character
// dashed UUID form. The id is used as given, never normalised, so data written
// under either form stays reachable under the same form.
func ValidSectionID(id string) bool {
	switch len(id) {
	case 32:
		for i := 0; i < len(id); i++ {
			if !isHex(id[i]) {
				return false
			}
		}
		return true
	case 36:
		for i := 0; i < len(id); i++ {
			switch i {
			case 8, 13, 18, 23:
				if id[i] != '-' {
					return false
				}
			default:
				if !isHex(id[i]) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// ValidTutorialID applies the section id rule to tutorial ids (same generator).
func ValidTutorialID(id string) bool { return ValidSectionID(id) }

// ValidFileName reports whether name is one of the allowed section files.
func ValidFileName(name string) bool { return fileNames[name] }

// ValidRole reports whether role names a layout folder: author or learner.
func ValidRole(role string) bool {
	return role == string(itss.RoleAuthor) || role == string(itss.RoleLearner)
}

// ValidUserID reports whether id can name a layout folder.
func ValidUserID(id int64) bool { return id > 0 }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func checkSection(id string) error {
	if !ValidSectionID(id) {
		return itss.Errorf(itss.CodeInvalid, "Invalid tutorial section ID")
	}
	return nil
}

// fileKey validates a section id and file name and returns "<section>/<name>",
// the relative path under the recordings root and the S3 key alike.
func fileKey(sectionID, name string) (string, error) {
	if err := checkSection(sectionID); err != nil {
		return "", err
	}
	if !ValidFileName(name) {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	return sectionID + "/" + name, nil
}

// layoutKey validates the layout coordinates and returns
// "<user_id>/<tutorial_id>/<role>/layout.json".
func layoutKey(userID int64, tutorialID, role string) (string, error) {
	if !ValidUserID(userID) {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid user ID")
	}
	if !ValidTutorialID(tutorialID) {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid tutorial ID")
	}
	if !ValidRole(role) {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid role")
	}
	return path.Join(strconv.FormatInt(userID, 10), tutorialID, role, layoutFile), nil
}
