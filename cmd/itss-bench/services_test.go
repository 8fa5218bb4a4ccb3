package main

import (
	"slices"
	"testing"

	"github.com/itss-go/itss/internal/config"
)

// A setting the harness does not strip would let a developer's shell change
// what is measured, so the list must follow internal/config.
func TestConfigVarsListEverySettingConfigReads(t *testing.T) {
	t.Parallel()
	var read []string
	_, _ = config.FromLookup(func(k string) (string, bool) {
		read = append(read, k)
		return "", false
	})
	if len(read) == 0 {
		t.Fatal("config read no variables")
	}
	for _, k := range read {
		if !slices.Contains(configVars, k) {
			t.Errorf("config reads %s but configVars does not strip it", k)
		}
	}
}

func TestServiceEnvironDropsSettingsAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	got := serviceEnviron([]string{"PATH=/bin", "SANDBOX_UID=0", "API_AUTH=optional"}, map[string]string{"API_AUTH": "required"})
	slices.Sort(got)
	want := []string{"API_AUTH=required", "PATH=/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("serviceEnviron = %q, want %q", got, want)
	}
}
