package migrate

import (
	"context"
	"errors"
	"io"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/storage"
)

// EmptyTarget is a Target that holds nothing and accepts no write. A dry
// run uses it for a local destination whose folders do not exist yet, since
// opening the local backend would create them.
func EmptyTarget(name string) Target { return emptyTarget(name) }

type emptyTarget string

var errEmptyTarget = errors.New("migrate: the empty target accepts no write")

func notFound() error { return itss.Errorf(itss.CodeNotFound, "File not found") }

func (e emptyTarget) Name() string { return string(e) }

func (emptyTarget) Stat(context.Context, string, string) (storage.Info, error) {
	return storage.Info{}, notFound()
}

func (emptyTarget) Open(context.Context, string, string) (io.ReadCloser, storage.Info, error) {
	return nil, storage.Info{}, notFound()
}

func (emptyTarget) PutFile(context.Context, string, string, io.Reader) error { return errEmptyTarget }

func (emptyTarget) StatLayout(context.Context, storage.LayoutKey) (storage.Info, error) {
	return storage.Info{}, notFound()
}

func (emptyTarget) OpenLayout(context.Context, storage.LayoutKey) (io.ReadCloser, storage.Info, error) {
	return nil, storage.Info{}, notFound()
}

func (emptyTarget) PutLayoutStream(context.Context, storage.LayoutKey, io.Reader) error {
	return errEmptyTarget
}
