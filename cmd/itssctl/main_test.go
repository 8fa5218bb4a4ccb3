package main

import (
	"strings"
	"testing"
)

// Scripts rely on the exit status: only an explicit request for help may
// print the usage and succeed; a missing or unknown command is a usage error.
func TestCommandLineExitStatusSeparatesHelpFromMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"db"}, 2},
		{[]string{"storage"}, 2},
		{[]string{"migrate"}, 2},
		{[]string{"db", "nuke"}, 2},
		{[]string{"help"}, 0},
		{[]string{"-h"}, 0},
		{[]string{"--help"}, 0},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, "usage: itssctl") {
			t.Errorf("itssctl %s: exit %d, want %d with the usage on stderr (stderr %q)", strings.Join(tc.args, " "), code, tc.code, errOut)
		}
	}
}
