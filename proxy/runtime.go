package proxy

import (
	"net"
	"sync"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

type runtimeSocket struct {
	p  *Proxy
	ln net.Listener
}

func newRuntimeSocket(p *Proxy, sc config.StatsSocket) (*runtimeSocket, error) {
	ln, err := net.Listen(sc.Network, sc.Address)
	if err != nil {
		return nil, err
	}
	return &runtimeSocket{p: p, ln: ln}, nil
}

func (s *runtimeSocket) serve(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func (s *runtimeSocket) close() { s.ln.Close() }
