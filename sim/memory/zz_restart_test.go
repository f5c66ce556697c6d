package memory

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"
)

func TestZZRestart(t *testing.T) {
	nw := newNetwork(1)
	addr, _ := freeAddr()
	n := newNode("r1", addr, nodeOptions{password: "pw"}, nw, slog.New(slog.DiscardHandler))
	nw.nodes[addr] = n
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ping1", ping(addr, "pw", time.Second))
	n.shutdown(false)
	fmt.Println("ping2", ping(addr, "pw", time.Second))
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	fmt.Println("dial", err)
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write([]byte("AUTH pw\r\nPING\r\n"))
	rd := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		l, err := rd.ReadString('\n')
		fmt.Printf("%q %v\n", l, err)
	}
}
