package dropboxconnector_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// relay forwards TCP connections to the server. It holds the client's bytes once holdAfter
// of them have passed, until cut closes every connection; later connections pass freely.
// It is the broken network between a service and dropbox-connector.
type relay struct {
	address   string
	holdAfter int64

	mu        sync.Mutex
	forwarded int64
	holding   bool
	cutDone   bool
	released  chan struct{}
	conns     []net.Conn
}

func startRelay(t *testing.T, target string, holdAfter int64) *relay {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{address: listener.Addr().String(), holdAfter: holdAfter, released: make(chan struct{})}
	t.Cleanup(func() {
		listener.Close()
		r.cut()
	})
	go func() {
		for {
			client, err := listener.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, client, upstream)
			r.mu.Unlock()
			go r.pipe(client, upstream, true)
			go r.pipe(upstream, client, false)
		}
	}()
	return r
}

func (r *relay) pipe(from, to net.Conn, fromClient bool) {
	defer from.Close()
	defer to.Close()
	if !fromClient {
		io.Copy(to, from)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			allowed := r.admit(int64(n))
			if _, werr := to.Write(buf[:allowed]); werr != nil {
				return
			}
			if allowed < int64(n) {
				// Hold the rest until the cut closes both ends.
				<-r.released
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// admit counts n client bytes and returns how many may pass before the hold.
func (r *relay) admit(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cutDone {
		return n
	}
	if r.holding {
		return 0
	}
	if r.forwarded+n > r.holdAfter {
		allowed := r.holdAfter - r.forwarded
		r.forwarded = r.holdAfter
		r.holding = true
		return allowed
	}
	r.forwarded += n
	return n
}

func (r *relay) isHolding() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.holding
}

func (r *relay) wasCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cutDone
}

// cut closes every connection made so far and lets later ones pass.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cutDone {
		return
	}
	r.cutDone = true
	r.holding = false
	for _, conn := range r.conns {
		conn.Close()
	}
	r.conns = nil
	close(r.released)
}
