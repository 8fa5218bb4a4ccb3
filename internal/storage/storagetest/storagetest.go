// Package storagetest gives tests of other packages a real S3 endpoint:
// gofakes3 served over HTTP, with the two buckets of the settings created.
package storagetest

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/itss-go/itss/internal/storage"
)

// Bucket names the fake store is created with.
const (
	Bucket        = "itss-recordings"
	LearnerBucket = "itss-layouts"
)

// FakeS3 starts gofakes3 on a loopback port, with Bucket and LearnerBucket
// created, and returns its endpoint URL. It stops when the test ends.
func FakeS3(tb testing.TB) string {
	tb.Helper()
	mem := s3mem.New()
	for _, b := range []string{Bucket, LearnerBucket} {
		if err := mem.CreateBucket(b); err != nil {
			tb.Fatalf("create bucket %s: %v", b, err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	tb.Cleanup(srv.Close)
	return srv.URL
}

// S3Options returns storage options for the fake store at endpoint, with
// local roots in a fresh temporary directory (for auto). Requests are tried
// once, so a stopped store fails fast.
func S3Options(tb testing.TB, endpoint string) storage.Options {
	dir := tb.TempDir()
	return storage.Options{
		Type:            "s3",
		RecordingsPath:  filepath.Join(dir, "recordings"),
		LayoutsPath:     filepath.Join(dir, "layouts"),
		AccessKeyID:     "test",
		SecretAccessKey: "test",
		Bucket:          Bucket,
		LearnerBucket:   LearnerBucket,
		Region:          "us-east-1",
		Endpoint:        endpoint,
		ForcePathStyle:  true,
		MaxAttempts:     1,
	}
}

// LocalOptions returns storage options for local roots in a fresh
// temporary directory.
func LocalOptions(tb testing.TB) storage.Options {
	dir := tb.TempDir()
	return storage.Options{
		Type:           "local",
		RecordingsPath: filepath.Join(dir, "recordings"),
		LayoutsPath:    filepath.Join(dir, "layouts"),
	}
}
