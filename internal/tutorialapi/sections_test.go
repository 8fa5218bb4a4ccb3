package tutorialapi

import (
	"fmt"
	"strings"
	"testing"
)

// TestSectionSaveWithAnEmptiedTitleKeepsTheTitleAndSavesTheRest: the editor's
// Back button sends the title with the description and code; a title the
// author cleared must not cost them the rest (the original stored it; the
// page then navigates to /tutorial/overview/<tutorial_id>, so the answer
// must carry the id).
func TestSectionSaveWithAnEmptiedTitleKeepsTheTitleAndSavesTheRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newBareTutorial()
	for _, name := range []string{"", "   "} {
		m := wantStatus(t, e.req("POST", "/tutorial_section/update/"+f.code, map[string]any{"name": name,
			"language": "python", "description": "Loops, explained.", "code_content": "for i in range(3): print(i)",
			"code_input": "3"}, ownerC), 200)
		if m["tutorial_id"] != f.tid {
			t.Fatalf("answer %v", m)
		}
		sec := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.code, nil, ownerC), 200)
		if sec["name"] != "Code" || sec["description"] != "Loops, explained." ||
			sec["code_content"] != "for i in range(3): print(i)" || sec["code_input"] != "3" {
			t.Fatalf("section after save %v", sec)
		}
	}
}

// TestPlaybackTreatsEmptyEventFilesAsMissing: the playback page runs
// JSON.parse(JSON.parse(x)) on every event field, and JSON.parse("") throws
// and blanks the page. An empty event file (the original's shared temp files
// could leave one) is served as a missing one: null, or the scroll default.
func TestPlaybackTreatsEmptyEventFilesAsMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newBareTutorial()
	for name, content := range map[string]string{fileKeystroke: "", fileTranscript: "\n", fileConsoleScroll: "  ",
		fileLayoutAction: "", fileDescription: ""} {
		must(t, e.files.PutFile(t.Context(), f.code, name, strings.NewReader(content)))
	}
	m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.owner), nil, ownerC), 200)
	for _, k := range []string{"keystroke", "transcript", "layoutAction"} {
		if m[k] != nil {
			t.Errorf("%s = %q, want null", k, m[k])
		}
	}
	if m["consoleScrollAction"] != defaultScroll {
		t.Errorf("consoleScrollAction = %q, want the default", m["consoleScrollAction"])
	}
	// An empty description is a description (the editor saves "" too).
	if m["description"] != "" {
		t.Errorf("description = %v", m["description"])
	}
}
