package proxy

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// statsServer serves a stats section (a frontend or listen in mode http).
type statsServer struct {
	p   *Proxy
	cfg *config.Frontend
	ln  net.Listener
	srv *http.Server
}

func newStatsServer(p *Proxy, fc *config.Frontend) (*statsServer, error) {
	if len(fc.Binds) == 0 {
		return nil, fmt.Errorf("stats %s: no bind line", fc.Name)
	}
	ln, err := net.Listen("tcp", fc.Binds[0].Addr)
	if err != nil {
		return nil, fmt.Errorf("stats %s: bind %s: %w", fc.Name, fc.Binds[0].Addr, err)
	}
	s := &statsServer{p: p, cfg: fc, ln: ln}
	s.srv = &http.Server{Handler: s.handler()}
	return s, nil
}

func (s *statsServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", EventsHandler(s.p.events, s.p.done))
	return mux
}

func (s *statsServer) serve(wg *sync.WaitGroup) {
	defer wg.Done()
	s.srv.Serve(s.ln)
}

func (s *statsServer) close() { s.srv.Close() }
