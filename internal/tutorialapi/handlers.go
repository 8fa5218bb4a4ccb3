package tutorialapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/validate"
)

// handlers decode a request, call one Service method and encode its answer.
type handlers struct {
	svc *Service
}

// param returns a path parameter, unescaped. chi matches on the escaped path
// when it differs from the decoded one (%2F), so "a%2F..%2Fb" arrives here as
// is and is decoded to be rejected by validation, never used as a path.
func param(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid %s", name)
	}
	return u, nil
}

func identity(r *http.Request) itss.Identity { return itss.IdentityFrom(r.Context()) }

// userParam parses the user id of a Part B path ("Invalid user ID: ...").
func userParam(r *http.Request) (int64, error) {
	v, err := param(r, "uid")
	if err != nil {
		return 0, err
	}
	uid, err := validate.UserID(v)
	if err != nil {
		return 0, itss.Errorf(itss.CodeInvalid, "Invalid user ID: %s", err.Error())
	}
	return uid, nil
}

func (h *handlers) myTutorials(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.MyTutorials(r.Context(), identity(r))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"tutorials": list})
}

func (h *handlers) catalogue(w http.ResponseWriter, r *http.Request) {
	uid, err := userParam(r)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, err := h.svc.Catalogue(r.Context(), identity(r), uid)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"tutorials": list})
}

func (h *handlers) authorTutorials(w http.ResponseWriter, r *http.Request) {
	uid, err := userParam(r)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, err := h.svc.AuthorTutorials(r.Context(), identity(r), uid)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"tutorials": list})
}

func (h *handlers) tutorial(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err == nil {
		var t TutorialHeader
		if t, err = h.svc.Tutorial(r.Context(), identity(r), tid); err == nil {
			httpapi.JSON(w, http.StatusOK, t)
			return
		}
	}
	httpapi.Error(w, r, err)
}

func (h *handlers) tutorialDetail(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err == nil {
		var t TutorialDetail
		if t, err = h.svc.TutorialWithSections(r.Context(), identity(r), tid); err == nil {
			httpapi.JSON(w, http.StatusOK, t)
			return
		}
	}
	httpapi.Error(w, r, err)
}

func (h *handlers) playbackPage(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	page, err := strconv.Atoi(chi.URLParam(r, "page"))
	if err != nil || page < 1 {
		httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Invalid page ID"))
		return
	}
	uid, err := strconv.ParseInt(chi.URLParam(r, "uid"), 10, 64)
	if err != nil || uid < 1 {
		httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Invalid user ID"))
		return
	}
	p, err := h.svc.PlaybackPage(r.Context(), identity(r), tid, page, uid)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, p)
}

func (h *handlers) createTutorial(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        string  `json:"name"`
		Language    string  `json:"language"`
		Description *string `json:"description"`
		UserID      any     `json:"userid"`
	}
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	id, err := h.svc.CreateTutorial(r.Context(), identity(r), NewTutorial{Name: body.Name, Language: body.Language,
		Description: body.Description, UserID: body.UserID})
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"id": id})
}

func (h *handlers) copySample(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID any `json:"userid"`
	}
	// Only the auth service's body is read; anyone else is refused by
	// CopySample whatever they sent.
	if identity(r).Service {
		if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
			httpapi.Error(w, r, err)
			return
		}
	}
	id, err := h.svc.CopySample(r.Context(), identity(r), body.UserID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"id": id})
}

func (h *handlers) updateTutorial(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var body map[string]json.RawMessage
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	in, err := parseTutorialUpdate(body)
	if err == nil {
		err = h.svc.UpdateTutorial(r.Context(), identity(r), tid, in)
	}
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "success"})
}

// parseTutorialUpdate reads T7's body: only keys present change; null
// clears a date.
func parseTutorialUpdate(body map[string]json.RawMessage) (TutorialUpdate, error) {
	var in TutorialUpdate
	if raw, ok := body["sequence"]; ok {
		if err := json.Unmarshal(raw, &in.Sequence); err != nil || in.Sequence == nil {
			return in, itss.Errorf(itss.CodeInvalid, "Invalid sequence: must be an array of section ids")
		}
		in.SetSequence = true
	}
	date := func(key string) (bool, *time.Time, error) {
		raw, ok := body[key]
		if !ok {
			return false, nil, nil
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, nil, itss.Errorf(itss.CodeInvalid, "Invalid %s: must be a date string or null", key)
		}
		if s == nil || *s == "" {
			return true, nil, nil
		}
		t, ok := ParseDate(*s)
		if !ok {
			return false, nil, itss.Errorf(itss.CodeInvalid, "Invalid %s: Invalid date format", key)
		}
		return true, &t, nil
	}
	var err error
	if in.SetStart, in.Start, err = date("startDatetime"); err != nil {
		return in, err
	}
	if in.SetEnd, in.End, err = date("endDatetime"); err != nil {
		return in, err
	}
	for key, dst := range map[string]**string{"name": &in.Name, "description": &in.Description} {
		if raw, ok := body[key]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return in, itss.Errorf(itss.CodeInvalid, "Invalid %s: must be a string", key)
			}
		}
	}
	return in, nil
}

func (h *handlers) deleteTutorial(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err == nil {
		err = h.svc.DeleteTutorial(r.Context(), identity(r), tid)
	}
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "success"})
}

// multipartFields adapts a streaming multipart reader to FieldReader.
type multipartFields struct{ r *multipart.Reader }

func (m multipartFields) NextField() (string, io.Reader, error) {
	p, err := m.r.NextPart()
	if err != nil {
		return "", nil, err
	}
	return p.FormName(), p, nil
}

// uploadTimeout replaces the server's read and write deadlines for uploads,
// which may carry hundreds of megabytes from a slow connection (the write
// deadline runs from the end of the headers, so it covers the upload too).
const uploadTimeout = 30 * time.Minute

func (h *handlers) uploadRecording(w http.ResponseWriter, r *http.Request) {
	limit := UploadBodyLimit(h.svc.maxUpload)
	if r.ContentLength > limit {
		httpapi.Error(w, r, itss.Errorf(itss.CodeTooLarge, "Request body too large"))
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(uploadTimeout + time.Minute))
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Expected a multipart/form-data body"))
		return
	}
	freq, err := h.svc.SaveRecording(r.Context(), identity(r), multipartFields{mr})
	if errors.Is(err, ErrUploadsBusy) {
		w.Header().Set("Retry-After", "5")
	}
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "success", "frequent_word": freq})
}

func (h *handlers) section(w http.ResponseWriter, r *http.Request) {
	sid, err := param(r, "sid")
	if err == nil {
		var v SectionView
		if v, err = h.svc.Section(r.Context(), identity(r), sid); err == nil {
			httpapi.JSON(w, http.StatusOK, v)
			return
		}
	}
	httpapi.Error(w, r, err)
}

func (h *handlers) sections(w http.ResponseWriter, r *http.Request) {
	tid, err := param(r, "tid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	list, err := h.svc.Sections(r.Context(), identity(r), tid)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if len(list) == 0 {
		// The original's answer for no sections; the overview page then shows
		// "No section yet".
		httpapi.JSON(w, http.StatusOK, map[string]string{"message": msgSectionNotFound})
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"tutorial_section": list})
}

func (h *handlers) createSection(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TutorialID   string `json:"tutorial_id"`
		Name         string `json:"name"`
		TutorialType string `json:"tutorial_type"`
	}
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	id, err := h.svc.CreateSection(r.Context(), identity(r), NewSection(body))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"id": id})
}

func (h *handlers) updateSection(w http.ResponseWriter, r *http.Request) {
	sid, err := param(r, "sid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var body struct {
		Name         *string         `json:"name"`
		TutorialType *string         `json:"tutorial_type"`
		Language     *string         `json:"language"`
		CodeInput    *string         `json:"code_input"`
		Description  *string         `json:"description"`
		CodeContent  *string         `json:"code_content"`
		Question     json.RawMessage `json:"question"`
	}
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	tid, err := h.svc.UpdateSection(r.Context(), identity(r), sid, SectionUpdate(body))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"tutorial_id": tid})
}

func (h *handlers) deleteSection(w http.ResponseWriter, r *http.Request) {
	sid, err := param(r, "sid")
	if err == nil {
		err = h.svc.DeleteSection(r.Context(), identity(r), sid)
	}
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "success"})
}

func (h *handlers) searchKeyword(w http.ResponseWriter, r *http.Request) {
	kw, err := param(r, "keyword")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sid, err := param(r, "sid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	res, err := h.svc.SearchTranscript(r.Context(), identity(r), kw, sid)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"result": res})
}

// layoutBody is T18/T19's body.
type layoutBody struct {
	UserID     any             `json:"userid"`
	TutorialID string          `json:"tutorialid"`
	Role       string          `json:"role"`
	Layout     json.RawMessage `json:"layout"`
}

func (b layoutBody) key() LayoutKey {
	return LayoutKey{UserID: b.UserID, TutorialID: b.TutorialID, Role: b.Role}
}

func (h *handlers) saveLayout(w http.ResponseWriter, r *http.Request) {
	var body layoutBody
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if err := h.svc.SaveLayout(r.Context(), identity(r), body.key(), body.Layout); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "success"})
}

func (h *handlers) getLayout(w http.ResponseWriter, r *http.Request) {
	var body layoutBody
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	layout, err := h.svc.Layout(r.Context(), identity(r), body.key())
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]*string{"layout": layout})
}

func (h *handlers) file(w http.ResponseWriter, r *http.Request) {
	sid, err := param(r, "sid")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	name, err := param(r, "name")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	f, err := h.svc.OpenRecording(r.Context(), identity(r), sid, name, FileAccess{Exp: q.Get("exp"), Sig: q.Get("sig")})
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if f.Redirect != "" {
		http.Redirect(w, r, f.Redirect, http.StatusFound)
		return
	}
	defer f.File.Close()
	fi, err := f.File.Stat()
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "audio/wav")
	hdr.Set("Content-Disposition", `inline; filename="recording.wav"`)
	// private: the recording may belong to an unpublished tutorial.
	hdr.Set("Cache-Control", "private, max-age=3600")
	// As the original: any page may embed the audio; no credentials involved.
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Del("Access-Control-Allow-Credentials")
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w, r: r}, r, name, fi.ModTime(), f.File)
}

// rangeErrorWriter turns http.ServeContent's plain-text 416 into the JSON
// error shape (A2); everything else passes through.
type rangeErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (w *rangeErrorWriter) WriteHeader(status int) {
	if status == http.StatusRequestedRangeNotSatisfiable {
		w.swallow = true
		w.Header().Del("Content-Disposition")
		httpapi.ErrorStatus(w.ResponseWriter, w.r, status, "Requested range not satisfiable", nil)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *rangeErrorWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *rangeErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *handlers) storageInfo(w http.ResponseWriter, r *http.Request) {
	info, err := h.svc.StorageInfo(r.Context(), identity(r))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, info)
}

func (h *handlers) storageHealth(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.StorageHealth(r.Context(), identity(r))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, st)
}
