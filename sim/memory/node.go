package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	simlink "github.com/redisha-sim/redisha-sim/sim/link"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// Node is an in-memory Redis node: miniredis for the data and the commands,
// plus what miniredis lacks: INFO replication, ROLE, REPLICAOF, AUTH with
// requirepass, READONLY replicas, min-replicas-to-write, asynchronous
// replication with a lag, and the faults (stop, kill, start on the same
// address, pause, network disconnect).
type Node struct {
	name string
	// addr is where the node listens: set at creation, changed only by a
	// reschedule (while the node is stopped), read without n.mu.
	addr atomic.Pointer[string]
	// firstMaster is the address of the master it was first started to
	// replicate ("" for the initial master): the configuration a
	// rescheduled pod starts with.
	firstMaster string
	opts        nodeOptions
	net         *network
	log         *slog.Logger

	mu      sync.Mutex
	state   nodeState
	cut     bool // disconnected from the other nodes and the Sentinels
	m       *miniredis.Miniredis
	ln      net.Listener
	conns   map[net.Conn]struct{}
	authed  map[*server.Peer]bool
	resumed chan struct{} // closed when a pause ends
	runID   string
	started time.Time
	// cronBase is where the node's serverCron ticks count from (every
	// 100 ms, its replication cron every second): its start, shifted by a
	// random phase, as the processes of a cluster do not start in step.
	cronBase time.Time
	// stopping blocks writes during a graceful stop, as Redis 7 does while
	// its replicas catch up.
	stopping bool
	// lf are the node's link faults (delay, blackhole, reset, loss,
	// bandwidth) per peer class and direction. They last, as a
	// disconnect does, until undone.
	lf simlink.Rules

	repl replState
	// snap is the snapshot a graceful stop wrote (persistence on).
	snap *snapshot
	// links are the Sentinels' connections, for CLIENT KILL and for
	// telling them when the node goes away.
	links map[*link]struct{}
	// acceptWG waits for the accept loop.
	acceptWG sync.WaitGroup
}

type nodeState int

const (
	nodeStopped nodeState = iota
	nodeRunning
	nodePaused
)

func (s nodeState) String() string { return [...]string{"stopped", "running", "paused"}[s] }

type nodeOptions struct {
	password           string
	persistence        bool
	lag                time.Duration
	minReplicasToWrite int
	minReplicasMaxLag  time.Duration
}

// snapshot is what a Redis RDB file keeps: the data and the replication
// identity.
type snapshot struct {
	data   []keyDump
	replID string
	offset int64
}

func newRunID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newNode(name, addr string, opts nodeOptions, nw *network, log *slog.Logger) *Node {
	n := &Node{name: name, opts: opts, net: nw, log: log.With("node", name),
		conns: map[net.Conn]struct{}{}, authed: map[*server.Peer]bool{}, links: map[*link]struct{}{}}
	n.addr.Store(&addr)
	return n
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// Addr is the node's host:port.
func (n *Node) Addr() string { return *n.addr.Load() }

// start brings the node up on its address: from its snapshot when it has
// one, else empty, and always as a master, as a restarted Redis does.
func (n *Node) start() error {
	// Processes started one after another have unrelated cron phases.
	phase := n.net.uniform(time.Second)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != nodeStopped {
		return fmt.Errorf("start %s: already %s", n.name, n.state)
	}
	ln, err := listenRetry(n.Addr())
	if err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	m := miniredis.NewMiniRedis()
	c, err := m.Dial() // starts miniredis without a listener of its own
	if err != nil {
		ln.Close()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	c.Close()
	m.Server().SetPreHook(n.preHook)
	n.m, n.ln = m, ln
	n.state, n.runID, n.started = nodeRunning, newRunID(), time.Now()
	n.cronBase = n.started.Add(-phase)
	n.stopping = false
	n.authed = map[*server.Peer]bool{}
	// The replication generation goes on from the last life: a stream
	// of that life still ending (its pump's linkDown) must not take down
	// the link a REPLICAOF of this one makes.
	n.repl = replState{role: roleMaster, replID: newRunID(), secondOffset: -1, gen: n.repl.gen + 1}
	if n.opts.persistence && n.snap != nil {
		restore(m, n.snap.data)
		n.repl.replID, n.repl.offset = n.snap.replID, n.snap.offset
		n.repl.backlog = true
	}
	n.acceptWG.Add(1)
	go n.accept(ln, m.Server())
	n.log.Debug("started", "addr", n.Addr(), "from_snapshot", n.opts.persistence && n.snap != nil)
	return nil
}

// listenRetry binds addr, retrying briefly while the port is in TIME_WAIT
// cleanup or being released by the previous instance.
func listenRetry(addr string) (net.Listener, error) {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

func (n *Node) accept(ln net.Listener, srv *server.Server) {
	defer n.acceptWG.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n.mu.Lock()
		if n.ln != ln {
			n.mu.Unlock()
			c.Close()
			return
		}
		reset := n.lf.Rule(classClients, dirIn).Reset
		tc := &trackedConn{Conn: c, n: n, done: make(chan struct{})}
		if !reset {
			n.conns[tc] = struct{}{}
		}
		n.mu.Unlock()
		if reset {
			resetConn(c) // action reset: new connections are reset
			continue
		}
		go serveConn(tc, srv, clientHooks{n: n, done: tc.done, u: n.net.draw()})
	}
}

// trackedConn forgets itself when closed; done closes then, ending what
// waits on a held link.
type trackedConn struct {
	net.Conn
	n    *Node
	done chan struct{}
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
		close(c.done)
	})
	return c.Conn.Close()
}

// shutdownTimeout is Redis 7's default shutdown-timeout.
const shutdownTimeout = 10 * time.Second

// shutdown takes the node down. A kill drops everything at once; a
// graceful stop first does what Redis 7 does on SIGTERM (shutdownWait:
// writes held until the replicas' periodic ACKs catch up, up to
// shutdownTimeout), then saves a snapshot if persistence is on.
func (n *Node) shutdown(graceful bool) error {
	n.mu.Lock()
	if n.state == nodeStopped {
		n.mu.Unlock()
		return nil
	}
	if n.state == nodePaused {
		close(n.resumed) // a paused process still dies
		n.state = nodeRunning
	}
	if graceful {
		n.mu.Unlock()
		n.shutdownWait(shutdownTimeout)
		n.mu.Lock()
		if n.opts.persistence {
			n.snap = &snapshot{data: dump(n.m), replID: n.repl.replID, offset: n.repl.offset}
		}
	}
	ln, m := n.ln, n.m
	n.ln = nil
	n.state = nodeStopped
	conns := make([]net.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	links := n.takeLinksLocked()
	n.dropReplicationLocked()
	n.mu.Unlock()

	ln.Close()
	for _, c := range conns {
		if !graceful {
			resetConn(c) // a killed process's sockets are reset
			continue
		}
		c.Close()
	}
	m.Close()
	n.acceptWG.Wait()
	for _, l := range links {
		l.closedByPeer()
	}
	n.net.nodeChanged(n)
	n.log.Debug("stopped", "graceful", graceful)
	return nil
}

// pause freezes the node: connections stay open and nothing is answered,
// replication from it stops, Sentinels' requests wait.
func (n *Node) pause() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != nodeRunning {
		return fmt.Errorf("pause %s: it is %s", n.name, n.state)
	}
	n.state = nodePaused
	n.resumed = make(chan struct{})
	return nil
}

func (n *Node) unpause() error {
	n.mu.Lock()
	if n.state != nodePaused {
		n.mu.Unlock()
		return fmt.Errorf("unpause %s: it is %s", n.name, n.state)
	}
	n.state = nodeRunning
	close(n.resumed)
	n.mu.Unlock()
	n.net.nodeChanged(n)
	return nil
}

// setCut disconnects the node from the other nodes and the Sentinels (or
// reconnects it); clients still reach it.
func (n *Node) setCut(cut bool) {
	n.mu.Lock()
	if n.cut == cut {
		n.mu.Unlock()
		return
	}
	n.cut = cut
	var links []*link
	if !cut {
		// Connections that hung through the partition are reset when it
		// heals; Sentinels reconnect.
		links = n.takeLinksLocked()
	}
	n.mu.Unlock()
	for _, l := range links {
		l.closedByPeer()
	}
	n.net.nodeChanged(n)
}

// setShape sets the link delay of everything the node sends (zeros
// remove it).
func (n *Node) setShape(delay, jitter time.Duration) {
	n.applyLinkFault(fault.LinkFault{Action: fault.Delay, Delay: delay, Jitter: jitter})
}

// waitIfPaused blocks while the node is paused; it reports false when the
// node stopped meanwhile.
func (n *Node) waitIfPaused() bool {
	for {
		n.mu.Lock()
		st, ch := n.state, n.resumed
		n.mu.Unlock()
		switch st {
		case nodeRunning:
			return true
		case nodeStopped:
			return false
		}
		<-ch
	}
}

func (n *Node) stateOf() (nodeState, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state, n.cut
}

// killClients closes the node's client connections, as CLIENT KILL TYPE
// normal does, and the Sentinels' links but keep (the caller's).
func (n *Node) killClients(keep *link) {
	n.mu.Lock()
	conns := make([]net.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	var links []*link
	for l := range n.links {
		if l != keep {
			delete(n.links, l)
			links = append(links, l)
		}
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	for _, l := range links {
		l.closedByPeer()
	}
}

func (n *Node) takeLinksLocked() []*link {
	links := make([]*link, 0, len(n.links))
	for l := range n.links {
		links = append(links, l)
	}
	n.links = map[*link]struct{}{}
	return links
}

// preHook runs before miniredis handles a command: it answers what the
// node adds and enforces what Redis enforces.
func (n *Node) preHook(c *server.Peer, cmd string, args ...string) bool {
	if !n.waitIfPaused() {
		c.Close()
		return true
	}
	if c.ClientName == replicationClient {
		return false // the replication stream writes freely
	}
	n.mu.Lock()
	password, authed := n.opts.password, n.authed[c]
	n.mu.Unlock()
	if cmd == "AUTH" {
		n.auth(c, args)
		return true
	}
	if cmd == "HELLO" {
		return n.hello(c, args, authed)
	}
	if password != "" && !authed && cmd != "QUIT" {
		c.WriteError("NOAUTH Authentication required.")
		return true
	}
	switch cmd {
	case "INFO":
		c.WriteBulk(n.info(args))
		return true
	case "ROLE":
		n.writeRole(c)
		return true
	case "REPLICAOF", "SLAVEOF":
		n.replicaofCommand(c, args)
		return true
	case "CLIENT":
		if len(args) > 0 {
			switch strings.ToUpper(args[0]) {
			case "KILL":
				n.killClients(nil)
				c.WriteInt(1)
				return true
			case "SETINFO":
				c.WriteOK()
				return true
			}
		}
	case "QUIT":
		c.WriteOK()
		c.Close()
		return true
	case "CONFIG":
		if len(args) >= 1 && strings.EqualFold(args[0], "REWRITE") {
			c.WriteError("ERR The server is running without a config file")
			return true
		}
	}
	if isWrite(cmd) {
		msg, alive := n.writeRefused()
		switch {
		case !alive:
			c.Close()
			return true
		case msg != "":
			c.WriteError(msg)
			return true
		}
		n.replicate(cmd, args)
	}
	return false
}

// hello checks HELLO's AUTH option (HELLO [protover [AUTH user pass]
// [SETNAME name]]) against requirepass; miniredis, which knows no password,
// answers the rest. It reports whether it answered.
func (n *Node) hello(c *server.Peer, args []string, authed bool) bool {
	for i := 1; i < len(args); i++ {
		if !strings.EqualFold(args[i], "AUTH") {
			continue
		}
		if i+2 >= len(args) {
			c.WriteError("ERR Syntax error in HELLO option 'auth'")
			return true
		}
		user, pass := args[i+1], args[i+2]
		n.mu.Lock()
		ok := n.opts.password != "" && user == "default" && pass == n.opts.password
		if ok {
			n.authed[c] = true
		}
		n.mu.Unlock()
		if !ok {
			c.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
			return true
		}
		return false
	}
	n.mu.Lock()
	need := n.opts.password != "" && !authed
	n.mu.Unlock()
	if need {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return true
	}
	return false
}

func (n *Node) auth(c *server.Peer, args []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case len(args) < 1 || len(args) > 2:
		c.WriteError("ERR wrong number of arguments for 'auth' command")
	case n.opts.password == "":
		c.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	case args[len(args)-1] != n.opts.password || (len(args) == 2 && args[0] != "default"):
		c.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
	default:
		n.authed[c] = true
		c.OnDisconnect(func() {
			n.mu.Lock()
			delete(n.authed, c)
			n.mu.Unlock()
		})
		c.WriteOK()
	}
}

// writeRefused returns the error Redis gives a write ("" to accept it);
// alive is false when the node went down while the write waited.
func (n *Node) writeRefused() (msg string, alive bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.repl.role == roleReplica {
		return "READONLY You can't write against a read only replica.", true
	}
	for n.stopping {
		// Redis pauses writes during a graceful shutdown; the client waits
		// until the connection closes.
		if n.state == nodeStopped {
			return "", false
		}
		n.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		n.mu.Lock()
	}
	if n.opts.minReplicasToWrite > 0 && n.goodReplicasLocked() < n.opts.minReplicasToWrite {
		return "NOREPLICAS Not enough good replicas to write.", true
	}
	return "", true
}

// writeCommands are the commands that modify data (those replicas refuse
// and masters replicate).
var writeCommands = map[string]bool{
	"SET": true, "SETNX": true, "SETEX": true, "PSETEX": true, "MSET": true, "MSETNX": true, "APPEND": true,
	"DEL": true, "UNLINK": true, "INCR": true, "INCRBY": true, "INCRBYFLOAT": true, "DECR": true, "DECRBY": true,
	"GETSET": true, "GETDEL": true, "GETEX": true, "SETRANGE": true, "EXPIRE": true, "PEXPIRE": true,
	"EXPIREAT": true, "PEXPIREAT": true, "PERSIST": true, "RENAME": true, "RENAMENX": true, "FLUSHDB": true,
	"FLUSHALL": true, "HSET": true, "HSETNX": true, "HMSET": true, "HDEL": true, "HINCRBY": true,
	"HINCRBYFLOAT": true, "LPUSH": true, "RPUSH": true, "LPUSHX": true, "RPUSHX": true, "LPOP": true,
	"RPOP": true, "LSET": true, "LREM": true, "LTRIM": true, "LINSERT": true, "RPOPLPUSH": true, "LMOVE": true,
	"SADD": true, "SREM": true, "SPOP": true, "SMOVE": true, "SINTERSTORE": true, "SUNIONSTORE": true,
	"SDIFFSTORE": true, "ZADD": true, "ZREM": true, "ZINCRBY": true, "ZPOPMIN": true, "ZPOPMAX": true,
	"ZREMRANGEBYSCORE": true, "ZREMRANGEBYRANK": true, "ZREMRANGEBYLEX": true, "XADD": true, "XDEL": true,
	"XTRIM": true, "COPY": true, "MOVE": true, "SWAPDB": true, "SETBIT": true, "BITOP": true, "PFADD": true,
	"PFMERGE": true, "RESTORE": true, "EVAL": true, "EVALSHA": true,
}

func isWrite(cmd string) bool { return writeCommands[cmd] }

func (n *Node) writeRole(c *server.Peer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.repl
	if r.role == roleMaster {
		c.WriteLen(3)
		c.WriteBulk("master")
		c.WriteInt(int(r.offset))
		c.WriteLen(len(r.replicas))
		for _, rp := range n.sortedReplicasLocked() {
			host, port, _ := net.SplitHostPort(rp.node.Addr())
			c.WriteLen(3)
			c.WriteBulk(host)
			c.WriteBulk(port)
			c.WriteBulk(strconv.FormatInt(rp.acked, 10))
		}
		return
	}
	host, port, _ := net.SplitHostPort(r.masterAddr)
	p, _ := strconv.Atoi(port)
	state := "connect"
	switch {
	case r.linkUp:
		state = "connected"
	case r.syncing:
		state = "sync"
	}
	c.WriteLen(5)
	c.WriteBulk("slave")
	c.WriteBulk(host)
	c.WriteInt(p)
	c.WriteBulk(state)
	c.WriteInt(int(r.offset))
}

func (n *Node) replicaofCommand(c *server.Peer, args []string) {
	if len(args) != 2 {
		c.WriteError("ERR wrong number of arguments for 'replicaof' command")
		return
	}
	if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
		n.becomeMaster()
		c.WriteOK()
		return
	}
	port, err := strconv.Atoi(args[1])
	if err != nil || port < 1 || port > 65535 {
		c.WriteError("ERR Invalid master port")
		return
	}
	addr := net.JoinHostPort(args[0], args[1])
	if n.follows(addr) {
		c.WriteInline("OK Already connected to specified master")
		return
	}
	n.becomeReplicaOf(addr)
	c.WriteOK()
}

// do performs a fault action.
func (n *Node) do(ctx context.Context, action fault.Action) error {
	switch action {
	case fault.Stop:
		return n.shutdown(true)
	case fault.Kill:
		return n.shutdown(false)
	case fault.Start:
		if st, _ := n.stateOf(); st != nodeStopped {
			return fmt.Errorf("start %s: it is %s", n.name, st)
		}
		return n.start()
	case fault.Restart:
		if err := n.shutdown(true); err != nil {
			return err
		}
		return n.start()
	case fault.Reschedule:
		return n.reschedule()
	case fault.Pause:
		return n.pause()
	case fault.Unpause:
		return n.unpause()
	case fault.Disconnect:
		n.setCut(true)
		return nil
	case fault.Reconnect:
		n.setCut(false)
		return nil
	}
	return fmt.Errorf("unknown action %q", action)
}

// reschedule is a rescheduled pod: a graceful stop if the node runs, then
// a start on another free loopback port, as its first start did: the
// initial master as a master, a replica replicating the address its first
// master had then. The old address is nobody's: it refuses connections.
func (n *Node) reschedule() error {
	if err := n.shutdown(true); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return fmt.Errorf("reschedule %s: %w", n.name, err)
	}
	n.net.move(n, addr)
	if err := n.start(); err != nil {
		return fmt.Errorf("reschedule %s: %w", n.name, err)
	}
	if n.firstMaster != "" {
		n.becomeReplicaOf(n.firstMaster)
	}
	n.log.Debug("rescheduled", "addr", addr, "replicaof", n.firstMaster)
	return nil
}
