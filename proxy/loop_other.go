//go:build !linux

package proxy

import (
	"errors"
	"net"
)

// defaultDataPath: only Linux has the loop data path.
const defaultDataPath = DataPathGoroutine

// loopSet and loopSession stand in for the Linux event loops.
type loopSet struct{}

type loopSession struct{}

func startLoops(*Proxy, int) (*loopSet, error) {
	return nil, errors.New("start event loops: the loop data path needs Linux")
}

func (*loopSet) stop() {}

func (*loopSession) kill() {}

// pipeLoop never takes a session here: the goroutine path does.
func (p *Proxy) pipeLoop(*session, net.Conn, *Server) bool { return false }
