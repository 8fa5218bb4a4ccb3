package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchPassword meets the registration policy (A2): length, upper, lower,
// digit and one of #?!@$%^&*-.
const benchPassword = "Bench#Passw0rd"

var languages = []string{"python", "python", "java", "javascript"} // python is the common case

var topics = []string{"Variables", "Loops", "Functions", "Lists", "Strings", "Recursion", "Sorting",
	"Dictionaries", "Classes", "Files", "Exceptions", "Closures", "Iterators", "Testing"}

// world is the seeded data the scenarios draw from.
type world struct {
	authors, learners []*account
	tutorials         []*tutorialInfo
	published         []*tutorialInfo // with at least one section
	codeSections      []*sectionInfo  // every Code section, with a recording
	publishedCode     []*sectionInfo  // the Code sections learners may read
	recordings        map[string]recordingFields
	uploadedBytes     int64
	addrs             *addrPool

	mu            sync.Mutex
	recordingURLs []string // signed audio URLs, collected by scenarios that need them
}

type tutorialInfo struct {
	id, lang, name string
	author         *account
	sections       []*sectionInfo
	published      bool
}

type sectionInfo struct {
	id, name, kind string
	tutorial       *tutorialInfo
}

// seed creates the data set through the public API, as authors would.
func seed(ctx context.Context, c *client, d dataset, workers int, seedValue int64, log *slog.Logger) (*world, error) {
	run := randomHex(4) // unique e-mails, so a target can be seeded more than once
	w := &world{addrs: newAddrPool(d.Authors + d.Learners), recordings: map[string]recordingFields{}}
	wav := encodeWAV(makeWAV(d.RecordingSeconds))
	for _, lang := range []string{"python", "java", "javascript"} {
		w.recordings[lang] = newRecordingFields(lang, d.RecordingSeconds, wav)
	}

	newAccount := func(i int, role string) *account {
		return &account{email: fmt.Sprintf("bench-%s-%s%04d@example.com", run, role, i),
			password: benchPassword, role: role, ip: addrAt(uint32(len(w.authors) + len(w.learners)))}
	}
	for i := range d.Authors {
		w.authors = append(w.authors, newAccount(i, "author"))
	}
	for i := range d.Learners {
		w.learners = append(w.learners, newAccount(i, "learner"))
	}
	people := append(append([]*account{}, w.authors...), w.learners...)
	start := time.Now()
	if err := parallel(ctx, workers, len(people), func(ctx context.Context, i int) error {
		a := people[i]
		if err := c.register(ctx, a, fmt.Sprintf("Bench %s %d", strings.ToUpper(a.role[:1])+a.role[1:], i)); err != nil {
			return err
		}
		return c.signIn(ctx, a)
	}); err != nil {
		return nil, err
	}
	log.Info("seed: accounts ready", "count", len(people), "in", time.Since(start).Round(time.Millisecond))

	// Tutorials round-robin over the authors, sections spread evenly.
	rng := rand.New(rand.NewPCG(uint64(seedValue), 1))
	for t := range d.Tutorials {
		ti := &tutorialInfo{lang: languages[rng.IntN(len(languages))], author: w.authors[t%d.Authors],
			published: d.UnpublishedEvery == 0 || t%d.UnpublishedEvery != d.UnpublishedEvery-1}
		ti.name = fmt.Sprintf("%s in %s, part %d", topics[t%len(topics)], ti.lang, t/len(topics)+1)
		w.tutorials = append(w.tutorials, ti)
	}
	for s := range d.Sections {
		ti := w.tutorials[s%d.Tutorials]
		kind := "Code"
		if d.QuestionEvery > 0 && s%d.QuestionEvery == d.QuestionEvery-1 {
			kind = "Question"
		}
		ti.sections = append(ti.sections, &sectionInfo{kind: kind, tutorial: ti,
			name: fmt.Sprintf("Section %d: %s", len(ti.sections)+1, topics[(s/d.Tutorials)%len(topics)])})
	}

	start = time.Now()
	var done atomic.Int64
	if err := parallel(ctx, workers, len(w.tutorials), func(ctx context.Context, i int) error {
		if err := w.seedTutorial(ctx, c, w.tutorials[i]); err != nil {
			return err
		}
		if n := done.Add(1); n%50 == 0 || int(n) == len(w.tutorials) {
			log.Info("seed: tutorials", "done", n, "of", len(w.tutorials), "elapsed", time.Since(start).Round(time.Second))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, t := range w.tutorials {
		if t.published && len(t.sections) > 0 {
			w.published = append(w.published, t)
		}
		for _, s := range t.sections {
			if s.kind == "Code" {
				w.codeSections = append(w.codeSections, s)
				if t.published {
					w.publishedCode = append(w.publishedCode, s)
				}
			}
		}
	}
	if len(w.published) == 0 {
		return nil, errors.New("the data set has no published tutorial: lower --unpublished-every or raise --tutorials")
	}
	return w, nil
}

// seedTutorial creates one tutorial, its sections in order, their content,
// and publishes it, all as its author.
func (w *world) seedTutorial(ctx context.Context, c *client, t *tutorialInfo) error {
	a := t.author
	var created struct {
		ID string `json:"id"`
	}
	r, err := c.do(ctx, jsonCall(c.tutorialURL+"/tutorial/create", map[string]string{
		"name": t.name, "language": t.lang, "userid": fmt.Sprint(a.uid),
	}, a.token, a.ip, ""))
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil || created.ID == "" {
		return httpError("create tutorial", r)
	}
	t.id = created.ID
	for _, s := range t.sections {
		created.ID = ""
		r, err := c.do(ctx, jsonCall(c.tutorialURL+"/tutorial_section/create", map[string]string{
			"name": "Untitled Section", "tutorial_id": t.id, "tutorial_type": s.kind,
		}, a.token, a.ip, ""))
		if err != nil {
			return err
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &created) != nil || created.ID == "" {
			return httpError("create section", r)
		}
		s.id = created.ID
		if s.kind == "Code" {
			n, err := w.upload(ctx, c, s)
			if err != nil {
				return err
			}
			atomic.AddInt64(&w.uploadedBytes, n)
			continue
		}
		r, err = c.do(ctx, jsonCall(c.tutorialURL+"/tutorial_section/update/"+s.id, map[string]any{
			"name": s.name, "tutorial_type": "Question", "question": quiz(s.name),
		}, a.token, a.ip, ""))
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return httpError("save question", r)
		}
	}
	if !t.published {
		return nil
	}
	// As the overview page's "Release Tutorial, without end date": Singapore
	// wall time to the minute, an hour ago so the window is already open.
	sgt := time.FixedZone("SGT", 8*3600)
	startAt := time.Now().Add(-time.Hour).In(sgt).Truncate(time.Minute).Format("2006-01-02T15:04:05-07:00")
	r, err = c.do(ctx, jsonCall(c.tutorialURL+"/tutorial/update/"+t.id, map[string]any{
		"startDatetime": startAt, "endDatetime": nil,
	}, a.token, a.ip, ""))
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return httpError("publish", r)
	}
	return nil
}

// upload saves a section's recording as the editor does; it returns the
// bytes sent.
func (w *world) upload(ctx context.Context, c *client, s *sectionInfo) (int64, error) {
	a := s.tutorial.author
	body, size, ctype := w.recordings[s.tutorial.lang].body(s.id, s.name)
	r, err := c.do(ctx, call{method: http.MethodPost, url: c.tutorialURL + "/upload_recording", body: body,
		size: size, contentType: ctype, token: a.token, ip: a.ip})
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"success"`) {
		return 0, httpError("upload recording", r)
	}
	return size, nil
}

// quiz is a react-quiz-component object (API.md 5.6).
func quiz(title string) map[string]any {
	return map[string]any{
		"quizTitle":    title,
		"quizSynopsis": "Check what you learned in the previous section.",
		"questions": []map[string]any{
			{"question": "What does the loop add up?", "questionType": "text", "answerSelectionType": "single",
				"answers": []string{"The numbers", "Their squares", "Their cubes", "Nothing"}, "correctAnswer": "2",
				"messageForCorrectAnswer": "Correct.", "messageForIncorrectAnswer": "Look at the loop body again.",
				"explanation": "sum += i * i adds the square of i.", "point": "10"},
			{"question": "Which values does range(1, n + 1) produce?", "questionType": "text", "answerSelectionType": "single",
				"answers": []string{"0 to n", "1 to n", "1 to n + 1", "0 to n - 1"}, "correctAnswer": "2", "point": "10"},
		},
	}
}

// parallel runs fn(0..n-1) on at most workers goroutines and stops at the
// first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}
