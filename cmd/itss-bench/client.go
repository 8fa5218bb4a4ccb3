package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// client talks to the two services as the frontend does.
type client struct {
	authURL, tutorialURL string
	hc                   *http.Client
}

func newClient(authURL, tutorialURL string, timeout time.Duration, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback targets; never an HTTP proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		// Bodies are compared as the server sent them.
		DisableCompression: true,
	}
	return &client{authURL: authURL, tutorialURL: tutorialURL, hc: &http.Client{Transport: tr, Timeout: timeout}}
}

// call is one request: who sends it (token, client address) and what.
type call struct {
	method, url string
	body        io.Reader
	size        int64 // Content-Length when body is set; -1 unknown
	contentType string
	token       string
	ip          string // X-Forwarded-For
	header      http.Header
}

// response keeps what the checks need.
type response struct {
	status int
	body   []byte
}

func (c *client) do(ctx context.Context, k call) (response, error) {
	req, err := http.NewRequestWithContext(ctx, k.method, k.url, k.body)
	if err != nil {
		return response{}, err
	}
	if k.body != nil && k.size >= 0 {
		req.ContentLength = k.size
	}
	if k.contentType != "" {
		req.Header.Set("Content-Type", k.contentType)
	}
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	if k.ip != "" {
		req.Header.Set("X-Forwarded-For", k.ip)
	}
	for name, v := range k.header {
		req.Header[name] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{status: resp.StatusCode}, fmt.Errorf("read body: %w", err)
	}
	return response{status: resp.StatusCode, body: b}, nil
}

// jsonCall builds a JSON POST the way the frontend sends tutorial calls: a
// JSON body with no Content-Type of its own (the browser labels it
// text/plain); auth calls carry application/json.
func jsonCall(url string, v any, token, ip string, contentType string) call {
	b, _ := json.Marshal(v)
	return call{method: http.MethodPost, url: url, body: bytes.NewReader(b), size: int64(len(b)),
		contentType: contentType, token: token, ip: ip}
}

// httpError describes an unexpected answer, with the start of its body.
func httpError(what string, r response) error {
	body := string(r.body)
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Errorf("%s: HTTP %d: %s", what, r.status, strings.TrimSpace(body))
}

func (c *client) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, base := range []string{c.authURL, c.tutorialURL} {
		for {
			r, err := c.do(ctx, call{method: http.MethodGet, url: base + "/health"})
			if err == nil && r.status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = httpError("health", r)
				}
				return fmt.Errorf("%s/health: %w", base, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// ---- auth service ----------------------------------------------------------------------

type account struct {
	email, password, role string
	ip                    string
	token                 string
	uid                   int64
}

func (c *client) register(ctx context.Context, a *account, name string) error {
	r, err := c.do(ctx, jsonCall(c.authURL+"/auth/register", map[string]string{
		"name": name, "email": a.email, "password": a.password, "repassword": a.password, "role": a.role,
	}, "", a.ip, "application/json"))
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return httpError("register "+a.email, r)
	}
	return nil
}

func (c *client) login(ctx context.Context, a *account, ip string) (string, response, error) {
	r, err := c.do(ctx, jsonCall(c.authURL+"/auth/login", map[string]string{
		"email": a.email, "password": a.password, "role": a.role,
	}, "", ip, "application/json"))
	if err != nil {
		return "", r, err
	}
	if r.status != http.StatusOK {
		return "", r, httpError("login "+a.email, r)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.AccessToken == "" {
		return "", r, httpError("login "+a.email+": no access_token", r)
	}
	return body.AccessToken, r, nil
}

// signIn logs in and learns the user id as PrivateRoute does.
func (c *client) signIn(ctx context.Context, a *account) error {
	tok, _, err := c.login(ctx, a, a.ip)
	if err != nil {
		return err
	}
	r, err := c.do(ctx, call{method: http.MethodGet, url: c.authURL + "/auth/protected", token: tok, ip: a.ip})
	if err != nil {
		return err
	}
	var body struct {
		ID   json.Number `json:"id"`
		Role string      `json:"role"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
		return httpError("protected "+a.email, r)
	}
	uid, err := strconv.ParseInt(body.ID.String(), 10, 64)
	if err != nil || uid < 1 {
		return httpError("protected "+a.email+": no user id", r)
	}
	a.token, a.uid = tok, uid
	return nil
}

// ---- simulated client addresses --------------------------------------------------------

// benchNet is 198.18.0.0/15, reserved for network benchmarks (RFC 2544): the
// X-Forwarded-For addresses of simulated people never name a real host.
var benchNet = netip.MustParsePrefix("198.18.0.0/15")

// addrAt returns the i-th address of benchNet (wrapping around).
func addrAt(i uint32) string {
	size := uint32(1) << (32 - benchNet.Bits())
	base := benchNet.Addr().As4()
	n := binary.BigEndian.Uint32(base[:]) + i%size
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b).String()
}

// addrPool hands out fresh addresses for requests that must not share a
// per-IP budget (logins), after the ones reserved for seeded people.
type addrPool struct {
	next atomic.Uint32
}

func newAddrPool(reserved int) *addrPool {
	p := &addrPool{}
	p.next.Store(uint32(reserved))
	return p
}

func (p *addrPool) take() string { return addrAt(p.next.Add(1)) }
