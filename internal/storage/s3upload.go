package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// upload streams r to bucket/key holding one part in memory at a time.
//
// This is a small sequential multipart uploader rather than the SDK's
// feature/s3/manager (deprecated by its makers) or transfermanager (not yet
// 1.0): it needs no more than this, and it makes the memory bound exact (one
// pooled PartSize buffer per upload in flight) and the retry story simple
// (each part is a bytes.Reader the SDK can rewind for its own retries).
// Failures to read r are returned as *sourceError so callers can tell a
// broken client stream from a broken store.
func (s *S3) upload(ctx context.Context, bucket, key string, r io.Reader) error {
	bp := s.getBuf()
	defer s.bufs.Put(bp)
	buf := *bp

	n, err := readPart(r, buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if errors.Is(err, io.EOF) { // the whole body fits in one part
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &bucket, Key: &key, Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		return s3Err("put "+key, err)
	}

	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return s3Err("create multipart "+key, err)
	}
	id := created.UploadId
	abort := func(cause error) error {
		// A dangling multipart upload is billed storage: abort it even when
		// the request that started it is gone.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: id}); err != nil {
			s.log.Warn("storage: multipart upload not aborted", "key", key, "err", err)
		}
		return cause
	}

	var parts []types.CompletedPart
	eof := false // the first part filled buf, or we would not be here
	for num := int32(1); ; num++ {
		if num > maxParts {
			return abort(fmt.Errorf("storage: upload of %s exceeds %d parts", key, maxParts))
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: id, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return abort(s3Err("upload part "+key, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		if eof {
			break // that was the final part
		}
		n, err = readPart(r, buf)
		if err != nil && !errors.Is(err, io.EOF) {
			return abort(err)
		}
		eof = err != nil
		if n == 0 {
			break // the body ended exactly on a part boundary
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(s3Err("complete multipart "+key, err))
	}
	return nil
}

// readPart fills buf from r. It returns io.EOF (with n possibly > 0) when r
// ended before buf was full, nil when buf is full, or a *sourceError.
func readPart(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return n, io.EOF
	}
	return n, &sourceError{err}
}

func (s *S3) getBuf() *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok && len(*bp) == s.partSize {
		return bp
	}
	b := make([]byte, s.partSize)
	return &b
}
