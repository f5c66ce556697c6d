package memory

import (
	"bufio"
	"fmt"
	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"net"
	"testing"
	"time"
)

func TestZZDbg(t *testing.T) {
	m := miniredis.NewMiniRedis()
	c, _ := m.Dial()
	c.Close()
	srv := m.Server()
	srv.SetPreHook(func(p *server.Peer, cmd string, args ...string) bool { fmt.Println("hook", cmd); return false })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			srv.ServeConn(cc)
		}
	}()
	cl, _ := net.Dial("tcp", ln.Addr().String())
	cl.SetDeadline(time.Now().Add(time.Second))
	cl.Write([]byte("PING\r\n"))
	l, err := bufio.NewReader(cl).ReadString('\n')
	fmt.Printf("%q %v\n", l, err)
}
