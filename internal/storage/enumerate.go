package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/itss-go/itss/internal/itss"
)

// This file adds what whole-store tools (itssctl storage migrate) need beyond
// the request-serving Backend: enumerating every section and layout a store
// holds, and streaming layouts in and out byte for byte. Layouts go through
// the same key validation as everything else.

// LayoutKey names one saved layout: <user_id>/<tutorial_id>/<role>/layout.json.
type LayoutKey struct {
	UserID     int64
	TutorialID string
	Role       string
}

// String is the key relative to the layouts root or bucket.
func (k LayoutKey) String() string {
	return strconv.FormatInt(k.UserID, 10) + "/" + k.TutorialID + "/" + k.Role + "/" + layoutFile
}

func compareLayoutKeys(a, b LayoutKey) int {
	if a.UserID != b.UserID {
		if a.UserID < b.UserID {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.TutorialID, b.TutorialID); c != 0 {
		return c
	}
	return strings.Compare(a.Role, b.Role)
}

// parseLayoutKey recognises "<user_id>/<tutorial_id>/<role>/layout.json";
// anything else (section files in a shared bucket, staging objects, stray
// keys) is not a layout.
func parseLayoutKey(key string) (LayoutKey, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[3] != layoutFile {
		return LayoutKey{}, false
	}
	uid, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || !ValidUserID(uid) || !ValidTutorialID(parts[1]) || !ValidRole(parts[2]) {
		return LayoutKey{}, false
	}
	// The decimal form must be canonical ("007" would name another folder).
	if strconv.FormatInt(uid, 10) != parts[0] {
		return LayoutKey{}, false
	}
	return LayoutKey{UserID: uid, TutorialID: parts[1], Role: parts[2]}, true
}

// --- Local ---

// ListSections returns the ids of the section folders in the recordings
// root, sorted. Hidden staging and trash folders are not sections.
func (l *Local) ListSections(_ context.Context) ([]string, error) {
	secs, err := l.sections()
	if secs == nil && err == nil {
		secs = []string{}
	}
	return secs, err
}

// ListLayouts returns every layout file in the layouts root, sorted. Folders
// whose names are not canonical keys ("007" for user 7) are not listed: no
// request can reach them.
func (l *Local) ListLayouts(ctx context.Context) ([]LayoutKey, error) {
	out := []LayoutKey{}
	err := fs.WalkDir(l.lay.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // removed while walking, or unreadable: not a layout
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if strings.Count(p, "/") > 2 {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if k, ok := parseLayoutKey(p); ok {
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, localErr("list layouts", err)
	}
	slices.SortFunc(out, compareLayoutKeys)
	return out, nil
}

// OpenLayout streams a layout file as stored, empty legacy files included
// (GetLayout hides those). NotFound when missing.
func (l *Local) OpenLayout(_ context.Context, k LayoutKey) (io.ReadCloser, Info, error) {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := openRegular(l.lay, key)
	if err != nil {
		return nil, Info{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, localErr("stat layout", err)
	}
	return f, Info{Name: layoutFile, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// StatLayout describes a layout file. NotFound when missing.
func (l *Local) StatLayout(_ context.Context, k LayoutKey) (Info, error) {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return Info{}, err
	}
	return statRegular(l.lay, key, layoutFile, "stat layout")
}

// PutLayoutStream stores a layout from r atomically, as PutLayout does.
func (l *Local) PutLayoutStream(ctx context.Context, k LayoutKey, r io.Reader) error {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return err
	}
	unlock := l.locks.lock("layout/" + key)
	defer unlock()
	dir := path.Dir(key)
	if err := mkdirAll(l.lay, dir); err != nil {
		return localErr("put layout", err)
	}
	return writeAtomic(ctx, l.lay, dir, key, r)
}

// --- S3 ---

// ListSections returns the section ids that have at least one object in the
// recordings bucket, sorted.
func (s *S3) ListSections(ctx context.Context) ([]string, error) {
	out := []string{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Err("list sections", err)
		}
		for _, cp := range page.CommonPrefixes {
			if id := strings.TrimSuffix(aws.ToString(cp.Prefix), "/"); ValidSectionID(id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// ListLayouts returns every layout object in the layouts bucket, sorted.
func (s *S3) ListLayouts(ctx context.Context) ([]LayoutKey, error) {
	out := []LayoutKey{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.layoutBucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Err("list layouts", err)
		}
		for _, o := range page.Contents {
			if k, ok := parseLayoutKey(aws.ToString(o.Key)); ok {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, compareLayoutKeys)
	return out, nil
}

// OpenLayout streams a layout object as stored, empty ones included.
func (s *S3) OpenLayout(ctx context.Context, k LayoutKey) (io.ReadCloser, Info, error) {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.layoutBucket, Key: &key})
	if err != nil {
		return nil, Info{}, s3Err("get layout", err)
	}
	return out.Body, Info{Name: layoutFile, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// StatLayout describes a layout object. NotFound when missing.
func (s *S3) StatLayout(ctx context.Context, k LayoutKey) (Info, error) {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.layoutBucket, Key: &key})
	if err != nil {
		return Info{}, s3Err("head layout", err)
	}
	return Info{Name: layoutFile, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// PutLayoutStream uploads a layout from r, streamed like section files.
func (s *S3) PutLayoutStream(ctx context.Context, k LayoutKey, r io.Reader) error {
	key, err := layoutKey(k.UserID, k.TutorialID, k.Role)
	if err != nil {
		return err
	}
	return s.upload(ctx, s.layoutBucket, key, r)
}

// --- Auto ---

// ListSections is the union of the sections on S3 and those held on local
// disk. It fails when S3 cannot be listed: a partial answer would look like
// missing data.
func (a *Auto) ListSections(ctx context.Context) ([]string, error) {
	remote, err := a.s3.ListSections(ctx)
	if err != nil {
		return nil, err
	}
	local, err := a.local.ListSections(ctx)
	if err != nil {
		return nil, err
	}
	out := append(remote, local...)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ListLayouts is the union of the layouts on S3 and on local disk.
func (a *Auto) ListLayouts(ctx context.Context) ([]LayoutKey, error) {
	remote, err := a.s3.ListLayouts(ctx)
	if err != nil {
		return nil, err
	}
	local, err := a.local.ListLayouts(ctx)
	if err != nil {
		return nil, err
	}
	out := append(remote, local...)
	slices.SortFunc(out, compareLayoutKeys)
	return slices.Compact(out), nil
}

// OpenLayout reads the local copy first (it is the newer), then S3.
func (a *Auto) OpenLayout(ctx context.Context, k LayoutKey) (io.ReadCloser, Info, error) {
	rc, info, err := a.local.OpenLayout(ctx, k)
	if err == nil || !itss.IsCode(err, itss.CodeNotFound) {
		return rc, info, err
	}
	return a.s3.OpenLayout(ctx, k)
}

// StatLayout looks local first, then S3.
func (a *Auto) StatLayout(ctx context.Context, k LayoutKey) (Info, error) {
	info, err := a.local.StatLayout(ctx, k)
	if err == nil || !itss.IsCode(err, itss.CodeNotFound) {
		return info, err
	}
	return a.s3.StatLayout(ctx, k)
}

// --- disk space ---

// DiskSpace is the space of the filesystem holding one local root.
type DiskSpace struct {
	Root  string // "recordings" or "layouts"
	Free  uint64 // bytes available to this process
	Total uint64 // bytes of the filesystem
}

// DiskSpace reports the free and total space of the filesystems holding the
// recordings and layouts roots (from statfs; no paths are reported).
func (l *Local) DiskSpace() ([]DiskSpace, error) {
	var out []DiskSpace
	var errs []error
	for _, r := range []struct {
		name string
		root *os.Root
	}{{"recordings", l.rec}, {"layouts", l.lay}} {
		free, total, err := rootSpace(r.root)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s root: %w", r.name, err))
			continue
		}
		out = append(out, DiskSpace{Root: r.name, Free: free, Total: total})
	}
	return out, errors.Join(errs...)
}

// DiskSpace reports the local fallback's filesystems.
func (a *Auto) DiskSpace() ([]DiskSpace, error) { return a.local.DiskSpace() }
