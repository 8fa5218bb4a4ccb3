package main

import (
	"testing"
	"time"

	"github.com/itss-go/itss/internal/httpapi"
)

// The shared defaults allow 15 minutes per request for the tutorial
// service's recording uploads. The auth service reads at most 1 MiB, so a
// client trickling a body must lose its connection far sooner.
func TestAuthServerTimeoutsFitItsSmallBodies(t *testing.T) {
	o := serverOptions()
	if o.ReadTimeout <= 0 || o.ReadTimeout > time.Minute {
		t.Errorf("ReadTimeout = %v, want at most a minute", o.ReadTimeout)
	}
	if o.WriteTimeout <= 0 || o.WriteTimeout > time.Minute {
		t.Errorf("WriteTimeout = %v, want at most a minute", o.WriteTimeout)
	}
	d := httpapi.DefaultServerOptions()
	if o.ReadHeaderTimeout != d.ReadHeaderTimeout || o.ShutdownTimeout != d.ShutdownTimeout {
		t.Errorf("options %+v drop the shared defaults %+v", o, d)
	}
}
