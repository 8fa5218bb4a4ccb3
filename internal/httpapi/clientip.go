package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type ctxKey int

const (
	clientIPKey ctxKey = iota
	loggerKey
)

// ClientIP returns the client address of r as the router's middleware
// determined it (X-Forwarded-For believed only from trusted proxies), or the
// peer address when r did not pass through the router.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey).(string); ok {
		return ip
	}
	return peerAddr(r).String()
}

// ClientKey is the client as rate limits count it: the IPv4 address, or the
// /64 network of an IPv6 address. One subscriber is routinely given a whole
// /64, so keying by the full address would hand a new budget to every
// address it picks.
func ClientKey(r *http.Request) string {
	ip := ClientIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// clientAddr walks X-Forwarded-For from the right: each entry was written by
// the hop after it, so entries are believed only while the hop that wrote
// them is a trusted proxy. The first address not in trusted is the client; a
// client cannot forge its way past the proxies because whatever it sends
// ends up left of the entry its first trusted proxy appends.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := peerAddr(r)
	if len(trusted) == 0 || !isTrusted(addr, trusted) {
		return addr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy would not write garbage: stop at the last
			// address that is known good.
			return addr
		}
		addr = hop
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return addr
}

func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil { // "1.2.3.4:5678", "[::1]:80"
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
