package memory

import (
	"strings"
	"sync"

	"github.com/alicebob/miniredis/v2/server"
)

// passwordGate is requirepass on a RESP front that miniredis serves
// (miniredis knows no password for the commands a front registers): it
// answers AUTH and HELLO's AUTH option, and refuses every other command of
// a connection that has not authenticated, as Redis does.
type passwordGate struct {
	password string
	mu       sync.Mutex
	authed   map[*server.Peer]bool
}

func newPasswordGate(password string) *passwordGate {
	return &passwordGate{password: password, authed: map[*server.Peer]bool{}}
}

// check runs before a command; it reports whether it answered (the
// command is then not run). Without a password it lets every command
// through, AUTH included (miniredis then refuses it as Redis does).
func (g *passwordGate) check(c *server.Peer, cmd string, args []string) bool {
	if g.password == "" {
		return false
	}
	switch cmd {
	case "AUTH":
		g.auth(c, args)
		return true
	case "HELLO":
		return g.hello(c, args)
	case "QUIT":
		return false
	}
	g.mu.Lock()
	ok := g.authed[c]
	g.mu.Unlock()
	if !ok {
		c.WriteError("NOAUTH Authentication required.")
		return true
	}
	return false
}

func (g *passwordGate) auth(c *server.Peer, args []string) {
	switch {
	case len(args) < 1 || len(args) > 2:
		c.WriteError("ERR wrong number of arguments for 'auth' command")
	case args[len(args)-1] != g.password || (len(args) == 2 && args[0] != "default"):
		c.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
	default:
		g.allow(c)
		c.WriteOK()
	}
}

// hello checks HELLO's AUTH option (HELLO [protover [AUTH user pass]
// [SETNAME name]]); miniredis answers the rest.
func (g *passwordGate) hello(c *server.Peer, args []string) bool {
	for i := 1; i < len(args); i++ {
		if !strings.EqualFold(args[i], "AUTH") {
			continue
		}
		if i+2 >= len(args) {
			c.WriteError("ERR Syntax error in HELLO option 'auth'")
			return true
		}
		if args[i+1] != "default" || args[i+2] != g.password {
			c.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
			return true
		}
		g.allow(c)
		return false
	}
	g.mu.Lock()
	ok := g.authed[c]
	g.mu.Unlock()
	if !ok {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return true
	}
	return false
}

func (g *passwordGate) allow(c *server.Peer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.authed[c] {
		return
	}
	g.authed[c] = true
	c.OnDisconnect(func() {
		g.mu.Lock()
		delete(g.authed, c)
		g.mu.Unlock()
	})
}
