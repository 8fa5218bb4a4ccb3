package storage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Benchmarks stream 100 MB through PutFile and Stage.Put and report the
// bytes allocated per operation: with streaming, that figure stays far below
// the body size. The s3 and auto variants talk over real HTTP to sinkS3, an
// endpoint that discards bodies, so the figure is the client's own; the
// s3-gofakes3 variant includes the in-memory fake server's allocations (it
// keeps every object in memory), an upper bound only.
const benchSize = 100 << 20

// sinkS3 answers the few S3 calls an upload makes and throws bodies away.
func sinkS3(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		q := r.URL.Query()
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			fmt.Fprint(w, `<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPost && q.Has("uploadId"):
			fmt.Fprint(w, `<CompleteMultipartUploadResult><ETag>"x"</ETag></CompleteMultipartUploadResult>`)
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			fmt.Fprint(w, `<CopyObjectResult><ETag>"x"</ETag></CopyObjectResult>`)
		case r.Method == http.MethodGet && q.Get("list-type") == "2":
			fmt.Fprint(w, `<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchBackends(b *testing.B) map[string]Backend {
	s3Opts := func(endpoint string) Options {
		o := testOptions(b, endpoint)
		o.PartSize = defaultPartSize
		return o
	}
	mkS3 := func(endpoint string) *S3 {
		s, err := NewS3(context.Background(), s3Opts(endpoint))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	sink := sinkS3(b)
	return map[string]Backend{
		"local":       newTestLocal(b),
		"s3":          mkS3(sink),
		"s3-gofakes3": mkS3(startFakeS3(b).URL()),
		"auto":        newTestAutoWith(b, mkS3(sink), newTestLocal(b)),
	}
}

func BenchmarkPutFile100MB(b *testing.B) {
	ctx := context.Background()
	for name, be := range benchBackends(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if err := be.PutFile(ctx, secA, "recording.wav", &patternReader{n: benchSize}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStagePut100MB(b *testing.B) {
	ctx := context.Background()
	for name, be := range benchBackends(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				st, err := be.Stage(ctx, secB)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Put(ctx, "recording.wav", &patternReader{n: benchSize}); err != nil {
					b.Fatal(err)
				}
				if err := st.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
