package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/itss-go/itss/internal/itss"
)

// S3 keeps files in two buckets with the original's keys: recordings as
// "<section_id>/<file>" in Bucket, layouts as
// "<user_id>/<tutorial_id>/<role>/layout.json" in LearnerBucket.
//
// Uploads stream: a body is read one part at a time into a pooled buffer and
// sent as a multipart upload (or one PutObject when it fits in one part), so
// an upload holds PartSize bytes at most, whatever its length.
//
// A Stage uploads under the hidden prefix ".staging/<section_id>/<token>/"
// (no valid section id starts with a dot); Commit copies the staged objects
// over the live keys server-side, deletes live keys that were not staged, then
// deletes the staging objects. S3 has no multi-key rename, so a commit that
// fails half-way can leave a mix; the new set is complete in staging before
// any live key changes, which is what keeps an interrupted upload harmless.
// Abandoned staging objects are best removed by a bucket lifecycle rule on
// the ".staging/" prefix.
type S3 struct {
	client       *s3.Client
	presign      *s3.PresignClient
	bucket       string
	layoutBucket string
	region       string
	partSize     int
	bufs         sync.Pool
	log          *slog.Logger
	locks        keyLocks // serialises commits and copies per section in this process
}

const (
	defaultPartSize = 8 << 20
	minPartSize     = 5 << 20 // S3 refuses smaller non-final parts
	maxParts        = 10000
	s3StagingPrefix = ".staging/"
)

// NewS3 builds the S3 backend. Static keys are used when given; otherwise
// the AWS SDK's default chain (instance role, shared profile) supplies them.
// No request is made here.
func NewS3(ctx context.Context, o Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errors.New("storage: S3_BUCKET_NAME is required for S3 storage")
	}
	region := o.Region
	if region == "" {
		region = "us-east-1"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	tune := func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.ForcePathStyle
		// Checksums only where S3 demands them: S3-compatible stores (MinIO,
		// Ceph, gofakes3 in tests) do not all understand the SDK's default
		// aws-chunked trailing checksums.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if o.MaxAttempts > 0 {
			so.RetryMaxAttempts = o.MaxAttempts
		}
	}
	var client *s3.Client
	if o.AccessKeyID != "" {
		client = s3.New(s3.Options{
			Region:      region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")),
			HTTPClient:  hc,
		}, tune)
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region), awsconfig.WithHTTPClient(hc))
		if err != nil {
			return nil, fmt.Errorf("storage: AWS configuration: %w", err)
		}
		client = s3.NewFromConfig(cfg, tune)
	}
	part := o.PartSize
	if part == 0 {
		part = defaultPartSize
	}
	if part < minPartSize {
		part = minPartSize
	}
	lb := o.LearnerBucket
	if lb == "" {
		lb = o.Bucket // keys cannot collide: section ids are 32+ hex, user ids are decimal
	}
	s := &S3{
		client:       client,
		presign:      s3.NewPresignClient(client),
		bucket:       o.Bucket,
		layoutBucket: lb,
		region:       region,
		partSize:     int(part),
		log:          logger(o.Logger),
	}
	return s, nil
}

// defaultHTTPClient fails fast on a dead endpoint (so auto falls back within
// seconds) but sets no overall timeout, which would cut off large uploads.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}}
}

func (s *S3) Name() string { return "s3" }

// Close exists for symmetry with Local; the SDK client holds nothing to free.
func (s *S3) Close() error { return nil }

func (s *S3) PutFile(ctx context.Context, sectionID, name string, r io.Reader) error {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return err
	}
	return s.upload(ctx, s.bucket, key, r)
}

func (s *S3) Open(ctx context.Context, sectionID, name string) (io.ReadCloser, Info, error) {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, Info{}, s3Err("get "+key, err)
	}
	return out.Body, Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (s *S3) ReadFile(ctx context.Context, sectionID, name string) ([]byte, error) {
	rc, _, err := s.Open(ctx, sectionID, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, s3Err("read", err)
	}
	return b, nil
}

func (s *S3) Stat(ctx context.Context, sectionID, name string) (Info, error) {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return Info{}, s3Err("head "+key, err)
	}
	return Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (s *S3) List(ctx context.Context, sectionID string) ([]Info, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	objs, err := s.listPrefix(ctx, sectionID+"/")
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(objs))
	for _, o := range objs {
		name := strings.TrimPrefix(aws.ToString(o.Key), sectionID+"/")
		if ValidFileName(name) {
			out = append(out, Info{Name: name, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// listPrefix returns every object under prefix in the recordings bucket.
func (s *S3) listPrefix(ctx context.Context, prefix string) ([]types.Object, error) {
	var out []types.Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Err("list "+prefix, err)
		}
		out = append(out, page.Contents...)
	}
	return out, nil
}

// DeleteSection removes every object under the section's prefix, allow-listed
// or not, as the original removed the whole folder.
func (s *S3) DeleteSection(ctx context.Context, sectionID string) error {
	if err := checkSection(sectionID); err != nil {
		return err
	}
	unlock := s.locks.lock(sectionID)
	defer unlock()
	objs, err := s.listPrefix(ctx, sectionID+"/")
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, aws.ToString(o.Key))
	}
	return s.deleteKeys(ctx, keys)
}

// deleteKeys deletes one object per request: a section holds at most a
// dozen files, and DeleteObjects' mandatory checksum is one more thing
// S3-compatible stores disagree on.
func (s *S3) deleteKeys(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(k)}); err != nil {
			if err := s3Err("delete "+k, err); !itss.IsCode(err, itss.CodeNotFound) {
				return err
			}
		}
	}
	return nil
}

func (s *S3) copyKey(ctx context.Context, from, to string) error {
	src := s.bucket + "/" + (&url.URL{Path: from}).EscapedPath()
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: aws.String(to), CopySource: aws.String(src)})
	if err != nil {
		return s3Err("copy "+from, err)
	}
	return nil
}

// CopySection copies server-side (no bytes through this process), then
// removes target files the source does not have.
func (s *S3) CopySection(ctx context.Context, fromID, toID string) error {
	if err := checkSection(fromID); err != nil {
		return err
	}
	if err := checkSection(toID); err != nil {
		return err
	}
	if fromID == toID {
		return nil
	}
	unlock := s.locks.lock(toID)
	defer unlock()
	src, err := s.List(ctx, fromID)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(src))
	for _, f := range src {
		if err := s.copyKey(ctx, fromID+"/"+f.Name, toID+"/"+f.Name); err != nil {
			return err
		}
		keep[toID+"/"+f.Name] = true
	}
	return s.deleteExcept(ctx, toID, keep)
}

// deleteExcept deletes every object under the section prefix not in keep.
func (s *S3) deleteExcept(ctx context.Context, sectionID string, keep map[string]bool) error {
	objs, err := s.listPrefix(ctx, sectionID+"/")
	if err != nil {
		return err
	}
	var gone []string
	for _, o := range objs {
		if k := aws.ToString(o.Key); !keep[k] {
			gone = append(gone, k)
		}
	}
	return s.deleteKeys(ctx, gone)
}

func (s *S3) Stage(_ context.Context, sectionID string) (Stage, error) {
	return s.stage(sectionID)
}

func (s *S3) stage(sectionID string) (*s3Stage, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	return &s3Stage{s: s, sec: sectionID, prefix: s3StagingPrefix + sectionID + "/" + token() + "/", names: map[string]bool{}}, nil
}

func (s *S3) PutLayout(ctx context.Context, userID int64, tutorialID, role string, data []byte) error {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.layoutBucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return s3Err("put layout", err)
	}
	return nil
}

func (s *S3) GetLayout(ctx context.Context, userID int64, tutorialID, role string) ([]byte, error) {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.layoutBucket, Key: &key})
	if err != nil {
		return nil, s3Err("get layout", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, s3Err("read layout", err)
	}
	if len(b) == 0 {
		return nil, errNotFound(errors.New("empty layout object"))
	}
	return b, nil
}

// PresignURL signs a GET for the recordings bucket; ttl <= 0 means the
// original's 6 hours. Signing is local: no request, no existence check.
func (s *S3) PresignURL(ctx context.Context, sectionID, name string, ttl time.Duration) (string, error) {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = DefaultPresignTTL
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("storage: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// LocalFile: nothing is held on disk by the S3 backend.
func (s *S3) LocalFile(_ context.Context, sectionID, name string) (*os.File, error) {
	if _, err := fileKey(sectionID, name); err != nil {
		return nil, err
	}
	return nil, errNotFound(errors.New("file is not stored locally"))
}

func (s *S3) Health(ctx context.Context) error {
	for _, b := range s.buckets() {
		if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)}); err != nil {
			return errUnavailable(fmt.Errorf("bucket %s: %w", b, err))
		}
	}
	return nil
}

func (s *S3) buckets() []string {
	if s.layoutBucket == s.bucket {
		return []string{s.bucket}
	}
	return []string{s.bucket, s.layoutBucket}
}

// Info mirrors the original's S3 answer (bucket names, region, whether each
// bucket answers).
func (s *S3) Info(ctx context.Context) map[string]any {
	ok := func(b string) bool {
		_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
		return err == nil
	}
	rec := ok(s.bucket)
	lay := rec
	if s.layoutBucket != s.bucket {
		lay = ok(s.layoutBucket)
	}
	return map[string]any{
		"backend_type":          "s3",
		"recordings_bucket":     s.bucket,
		"layouts_bucket":        s.layoutBucket,
		"region":                s.region,
		"recordings_accessible": rec,
		"layouts_accessible":    lay,
	}
}

// s3Err classifies SDK errors: a missing key → NotFound; anything the store
// or the network did → Unavailable (auto falls back on those); cancellation
// and failures reading the caller's stream keep their own identity.
func s3Err(op string, err error) error {
	if err == nil {
		return nil
	}
	if isSourceError(err) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("storage: s3 %s: %w", op, err)
	}
	if isS3NotFound(err) {
		return errNotFound(err)
	}
	return errUnavailable(fmt.Errorf("s3 %s: %w", op, err))
}

func isS3NotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}

// s3Stage is a Stage under a hidden prefix of the recordings bucket.
type s3Stage struct {
	s      *S3
	sec    string
	prefix string
	mu     sync.Mutex
	names  map[string]bool
	done   bool
}

func (st *s3Stage) Put(ctx context.Context, name string, r io.Reader) error {
	if !ValidFileName(name) {
		return itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return errStageDone
	}
	st.names[name] = true // recorded before upload so Abort also removes partial objects
	st.mu.Unlock()
	return st.s.upload(ctx, st.s.bucket, st.prefix+name, r)
}

func (st *s3Stage) Commit(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return errStageDone
	}
	st.done = true
	defer st.cleanup(ctx)
	unlock := st.s.locks.lock(st.sec)
	defer unlock()
	keep := make(map[string]bool, len(st.names))
	for _, name := range sortedKeys(st.names) {
		live := st.sec + "/" + name
		if err := st.s.copyKey(ctx, st.prefix+name, live); err != nil {
			return err
		}
		keep[live] = true
	}
	return st.s.deleteExcept(ctx, st.sec, keep)
}

func (st *s3Stage) Abort(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return nil
	}
	st.done = true
	return st.cleanup(ctx)
}

// cleanup removes the staging objects, also after the request was cancelled.
func (st *s3Stage) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	keys := make([]string, 0, len(st.names))
	for _, name := range sortedKeys(st.names) {
		keys = append(keys, st.prefix+name)
	}
	if err := st.s.deleteKeys(ctx, keys); err != nil {
		st.s.log.Warn("storage: staging objects left behind", "prefix", st.prefix, "err", err)
		return err
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
