package tcpcheck

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// seedRules is the seed's master check (../shared/reference/haproxy-seed.cfg).
func seedRules(role string) []Rule {
	return []Rule{
		Send("AUTH password1234\r\n"), ExpectString("+OK"),
		Send("PING\r\n"), ExpectString("+PONG"),
		Send("info replication\r\n"), ExpectString("role:" + role),
		ExpectString("repl_backlog_active:1"),
		Send("QUIT\r\n"), ExpectString("+OK"),
	}
}

// fakeRedis answers the commands of the seed's check line by line; reply
// writes each answer, so tests can split or delay it.
type fakeRedis struct {
	role    string
	backlog int
	// reply writes one answer to the connection.
	reply func(c net.Conn, s string)
}

func (f fakeRedis) serve(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	write := f.reply
	if write == nil {
		write = func(c net.Conn, s string) { c.Write([]byte(s)) }
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToLower(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "auth"):
			write(c, "+OK\r\n")
		case cmd == "ping":
			write(c, "+PONG\r\n")
		case cmd == "info replication":
			body := "# Replication\r\nrole:" + f.role + "\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n" +
				"master_replid:8e8b1a4f\r\nmaster_repl_offset:42\r\nsecond_repl_offset:-1\r\n" +
				"repl_backlog_active:" + string(rune('0'+f.backlog)) + "\r\nrepl_backlog_size:1048576\r\n"
			write(c, "$"+itoa(len(body))+"\r\n"+body+"\r\n")
		case cmd == "quit":
			write(c, "+OK\r\n")
			return
		default:
			write(c, "-ERR unknown command\r\n")
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// serve starts a loopback server running handle for each connection.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

func check(t *testing.T, kind Kind, rules []Rule, addr string, to Timeouts) Result {
	t.Helper()
	p, err := NewProgram(kind, rules)
	if err != nil {
		t.Fatal(err)
	}
	return p.Run(t.Context(), &net.Dialer{}, addr, to)
}

func wantResult(t *testing.T, got Result, status Status, info string) {
	t.Helper()
	if got.Status != status || got.Info != info {
		t.Fatalf("got %s %q, want %s %q", got.Status, got.Info, status, info)
	}
}

func TestSeedCheckPassesOnMaster(t *testing.T) {
	addr := serve(t, fakeRedis{role: "master", backlog: 1}.serve)
	got := check(t, KindTCPCheck, seedRules("master"), addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
	if got.Step != 9 {
		t.Errorf("got step %d, want 9", got.Step)
	}
}

func TestSeedCheckTimesOutOnReplicaAtRoleStep(t *testing.T) {
	addr := serve(t, fakeRedis{role: "slave", backlog: 1}.serve)
	inter := 200 * time.Millisecond
	got := check(t, KindTCPCheck, seedRules("master"), addr, Timeouts{Inter: inter})
	wantResult(t, got, StatusL7Timeout, " at step 6 of tcp-check (expect string 'role:master')")
	if got.Duration < inter || got.Duration > inter+150*time.Millisecond {
		t.Errorf("got duration %v, want the whole inter %v", got.Duration, inter)
	}
}

func TestBacklogExpectSearchesTheSameBuffer(t *testing.T) {
	// role:master matched, then repl_backlog_active:1 must be found in the
	// same reply, and a master with backlog 0 must fail on it.
	addr := serve(t, fakeRedis{role: "master", backlog: 0}.serve)
	got := check(t, KindTCPCheck, seedRules("master"), addr, Timeouts{Inter: 150 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 7 of tcp-check (expect string 'repl_backlog_active:1')")
}

func TestRepliesSplitAcrossReadsStillMatch(t *testing.T) {
	byteByByte := func(c net.Conn, s string) {
		for i := 0; i < len(s); i++ {
			c.Write([]byte{s[i]})
			time.Sleep(200 * time.Microsecond)
		}
	}
	addr := serve(t, fakeRedis{role: "master", backlog: 1, reply: byteByByte}.serve)
	got := check(t, KindTCPCheck, seedRules("master"), addr, Timeouts{Inter: 5 * time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
}

func TestPatternSplitAtEveryOffset(t *testing.T) {
	reply := "$20\r\n# Replication\r\nrole:master\r\n"
	for cut := 1; cut < len(reply); cut++ {
		addr := serve(t, func(c net.Conn) {
			defer c.Close()
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte(reply[:cut]))
			time.Sleep(2 * time.Millisecond)
			c.Write([]byte(reply[cut:]))
			time.Sleep(50 * time.Millisecond)
		})
		got := check(t, KindTCPCheck, []Rule{Send("info replication\r\n"), ExpectString("role:master")}, addr, Timeouts{Inter: 2 * time.Second})
		if got.Status != StatusL7OK {
			t.Fatalf("cut at %d: got %s %q, want L7OK", cut, got.Status, got.Info)
		}
	}
}

func TestRefusedConnectionIsLayer4ConnectionProblem(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	got := check(t, KindTCPCheck, seedRules("master"), addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL4Con, "Connection refused at initial connection step of tcp-check")
	if got.Step != 0 {
		t.Errorf("got step %d, want 0", got.Step)
	}
	plain := check(t, KindConnect, nil, addr, Timeouts{Inter: time.Second})
	wantResult(t, plain, StatusL4Con, "Connection refused")
}

func TestPlainConnectCheckPassesAtLayer4(t *testing.T) {
	addr := serve(t, func(c net.Conn) { c.Close() })
	got := check(t, KindConnect, nil, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL4OK, "")
}

func TestMismatchThenCloseIsInvalidResponse(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("$11\r\nrole:slave\r\n\r\n"))
		c.Close()
	})
	got := check(t, KindTCPCheck, []Rule{Send("info replication\r\n"), ExpectString("role:master")}, addr, Timeouts{Inter: 5 * time.Second})
	wantResult(t, got, StatusL7Rsp, "TCPCHK did not match content 'role:master' at step 2")
	if got.Duration > time.Second {
		t.Errorf("got duration %v: a close must decide at once", got.Duration)
	}
}

func TestCloseWithNothingReceivedIsEmptyResponse(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Close()
	})
	got := check(t, KindTCPCheck, []Rule{Send("PING\r\n"), ExpectString("+PONG")}, addr, Timeouts{Inter: 5 * time.Second})
	wantResult(t, got, StatusL7Rsp, "TCPCHK got an empty response at step 2")
}

func TestSendClearsTheBuffer(t *testing.T) {
	// Without the reset, the second expect would match the first reply.
	addr := serve(t, func(c net.Conn) {
		defer c.Close()
		rd := bufio.NewReader(c)
		rd.ReadString('\n')
		c.Write([]byte("+OK\r\n"))
		rd.ReadString('\n')
		c.Write([]byte("-ERR no\r\n"))
		time.Sleep(time.Second)
	})
	rules := []Rule{Send("A\r\n"), ExpectString("+OK"), Send("B\r\n"), ExpectString("+OK")}
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: 100 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 4 of tcp-check (expect string '+OK')")
}

func TestNegatedExpectWaitsForCloseOrTimeout(t *testing.T) {
	neg, _ := NewExpect(MatchString, true, "-ERR")
	closes := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("+PONG\r\n"))
		time.Sleep(30 * time.Millisecond)
		c.Close()
	})
	got := check(t, KindTCPCheck, []Rule{Send("PING\r\n"), neg}, closes, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")

	stays := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("+PONG\r\n"))
		time.Sleep(time.Second)
		c.Close()
	})
	got = check(t, KindTCPCheck, []Rule{Send("PING\r\n"), neg}, stays, Timeouts{Inter: 100 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 2 of tcp-check (expect string '-ERR')")

	errs := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("-ERR boom\r\n"))
		time.Sleep(time.Second)
	})
	got = check(t, KindTCPCheck, []Rule{Send("PING\r\n"), neg}, errs, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7Rsp, "TCPCHK matched unwanted content '-ERR' at step 2")
}

func TestMinRecvMakesAMismatchConclusive(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("+PONG\r\n"))
		time.Sleep(time.Second)
	})
	r := ExpectString("+OK")
	r.MinRecv = 5
	got := check(t, KindTCPCheck, []Rule{Send("PING\r\n"), r}, addr, Timeouts{Inter: 500 * time.Millisecond})
	wantResult(t, got, StatusL7Rsp, "TCPCHK did not match content '+OK' at step 2")
	if got.Duration > 300*time.Millisecond {
		t.Errorf("got duration %v: min-recv must decide without waiting for the timeout", got.Duration)
	}
}

func TestRegexAndBinaryMatches(t *testing.T) {
	addr := serve(t, fakeRedis{role: "master", backlog: 1}.serve)
	re, err := NewExpect(MatchRegex, false, `role:(master|slave)\r\n`)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := NewExpect(MatchBinary, false, "2b504f4e47") // "+PONG"
	if err != nil {
		t.Fatal(err)
	}
	rbin, err := NewExpect(MatchRegexBinary, false, "^2B4F4B") // "+OK" in upper-case hex
	if err != nil {
		t.Fatal(err)
	}
	rules := []Rule{Send("PING\r\n"), bin, Send("info replication\r\n"), re, Send("QUIT\r\n"), rbin}
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")

	badRe, _ := NewExpect(MatchRegex, false, `role:sentinel`)
	got = check(t, KindTCPCheck, []Rule{Send("info replication\r\n"), badRe}, addr, Timeouts{Inter: 100 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 2 of tcp-check (expect regex)")
}

func TestTimeoutCheckBoundsReadsAfterConnect(t *testing.T) {
	slow := serve(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		time.Sleep(200 * time.Millisecond)
		c.Write([]byte("+PONG\r\n"))
		time.Sleep(100 * time.Millisecond)
	})
	rules := []Rule{Send("PING\r\n"), ExpectString("+PONG")}
	// Without timeout check, inter bounds the whole check.
	got := check(t, KindTCPCheck, rules, slow, Timeouts{Inter: 100 * time.Millisecond, Connect: time.Second})
	wantResult(t, got, StatusL7Timeout, " at step 2 of tcp-check (expect string '+PONG')")
	// With it, the reads get their own budget.
	got = check(t, KindTCPCheck, rules, slow, Timeouts{Inter: 100 * time.Millisecond, Connect: time.Second, Check: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
}

func TestFullBufferDecidesWithoutWaiting(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte(strings.Repeat("x", BufferSize+100)))
		time.Sleep(2 * time.Second)
	})
	got := check(t, KindTCPCheck, []Rule{Send("GET\r\n"), ExpectString("+OK")}, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7Rsp, "TCPCHK did not match content '+OK' at step 2")
	if got.Duration > 500*time.Millisecond {
		t.Errorf("got duration %v, want a decision as soon as the buffer is full", got.Duration)
	}
}

func TestExplicitConnectCountsAsStepOne(t *testing.T) {
	addr := serve(t, fakeRedis{role: "slave", backlog: 1}.serve)
	rules := append([]Rule{Connect()}, Send("info replication\r\n"), ExpectString("role:master"))
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: 100 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 3 of tcp-check (expect string 'role:master')")
}

func TestConnectRulePortOverridesTheAddress(t *testing.T) {
	addr := serve(t, fakeRedis{role: "master", backlog: 1}.serve)
	_, port, _ := net.SplitHostPort(addr)
	c := Connect()
	c.Port = atoi(port)
	got := check(t, KindTCPCheck, []Rule{c, Send("PING\r\n"), ExpectString("+PONG")}, "127.0.0.1:1", Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestRedisCheckWordsLikeHAProxy(t *testing.T) {
	ok := serve(t, fakeRedis{role: "master"}.serve)
	got := check(t, KindRedis, nil, ok, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "Redis server is ok")

	loading := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n"))
		c.Close()
	})
	got = check(t, KindRedis, nil, loading, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7Sts, "-LOADING Redis is loading the dataset in memory")
}

func TestCanceledContextAbortsTheCheck(t *testing.T) {
	addr := serve(t, func(c net.Conn) { time.Sleep(2 * time.Second); c.Close() })
	p, _ := NewProgram(KindTCPCheck, []Rule{Send("PING\r\n"), ExpectString("+PONG")})
	ctx, cancel := contextWithCancel(t)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	got := p.Run(ctx, &net.Dialer{}, addr, Timeouts{Inter: 5 * time.Second})
	if got.Status != StatusSockErr || time.Since(start) > time.Second {
		t.Fatalf("got %s %q after %v, want SOCKERR at once", got.Status, got.Info, time.Since(start))
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func TestResetWithNothingReceivedIsSocketError(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	got := check(t, KindTCPCheck, []Rule{Send("AUTH x\r\n"), ExpectString("+OK")}, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusSockErr, "Connection reset by peer at step 2 of tcp-check (expect string '+OK')")
}

func TestDataBeforeResetIsStillEvaluated(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("+OK\r\n"))
		time.Sleep(20 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	got := check(t, KindTCPCheck, []Rule{Send("AUTH x\r\n"), ExpectString("+OK")}, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
}

func TestCommentsTakeStepNumbersAndLabelRules(t *testing.T) {
	addr := serve(t, fakeRedis{role: "master"}.serve)
	rules := []Rule{Comment("auth phase"), Send("PING\r\n"), ExpectString("+NOPE")}
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: 100 * time.Millisecond})
	wantResult(t, got, StatusL7Timeout, " at step 3 of tcp-check (expect string '+NOPE') comment: 'auth phase'")
}

func TestNegatedExpectIsRecheckedWhenMoreDataArrives(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("+PART\r\n"))
		time.Sleep(50 * time.Millisecond)
		c.Write([]byte("-ERR late\r\n+DONE\r\n"))
		time.Sleep(time.Second)
	})
	neg, _ := NewExpect(MatchString, true, "-ERR")
	neg.MinRecv = -1 // HAProxy's "min-recv 0": decide on what has arrived
	rules := []Rule{Send("GO\r\n"), neg, ExpectString("+DONE")}
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7Rsp, "TCPCHK matched unwanted content '-ERR' at step 2")
}

func TestCheckCountsTheBytesItSendsAndReceives(t *testing.T) {
	// The server reports what it wrote once the check has closed.
	written := make(chan int, 1)
	addr := serve(t, func(c net.Conn) {
		n := 0
		record := func(c net.Conn, s string) {
			n += len(s)
			c.Write([]byte(s))
		}
		fakeRedis{role: "master", backlog: 1, reply: record}.serve(c)
		written <- n
	})
	rules := seedRules("master")
	got := check(t, KindTCPCheck, rules, addr, Timeouts{Inter: time.Second})
	wantResult(t, got, StatusL7OK, "(tcp-check)")
	var sent int64
	for _, r := range rules {
		sent += int64(len(r.Data))
	}
	replies := int64(<-written)
	if got.Sent != sent || got.Received != replies {
		t.Fatalf("got %d bytes sent, %d received; want %d (the send lines), %d (the replies)", got.Sent, got.Received, sent, replies)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	refused := check(t, KindTCPCheck, rules, closed, Timeouts{Inter: time.Second})
	if refused.Status != StatusL4Con || refused.Sent != 0 || refused.Received != 0 {
		t.Fatalf("refused: got %s with %d bytes sent, %d received; want L4CON and none", refused.Status, refused.Sent, refused.Received)
	}
}

// hangingDialer never completes a connect: an address that drops the
// handshake (a dead container's IP, a blackholed host).
type hangingDialer struct{}

func (hangingDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// HAProxy's doc/configuration.txt, "timeout check": with it set, the
// connect is bounded by min(timeout connect, inter); without it, inter
// bounds the whole check and timeout connect plays no part.
func TestAHangingConnectIsBoundedAsHAProxyDocumentsIt(t *testing.T) {
	p, err := NewProgram(KindTCPCheck, []Rule{Send("PING\r\n"), ExpectString("+PONG")})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for _, c := range []struct {
		what string
		to   Timeouts
		want time.Duration
	}{
		{"no timeout check: inter", Timeouts{Inter: 300 * ms, Connect: 50 * ms}, 300 * ms},
		{"timeout check: timeout connect under inter", Timeouts{Inter: time.Second, Connect: 100 * ms, Check: 2 * time.Second}, 100 * ms},
		{"timeout check: inter under timeout connect", Timeouts{Inter: 150 * ms, Connect: time.Second, Check: 2 * time.Second}, 150 * ms},
		{"timeout check, no timeout connect: inter", Timeouts{Inter: 200 * ms, Check: 50 * ms}, 200 * ms},
	} {
		got := p.Run(t.Context(), hangingDialer{}, "192.0.2.1:6379", c.to)
		if got.Status != StatusL4Timeout {
			t.Errorf("%s: got %s %q, want L4TOUT", c.what, got.Status, got.Info)
		}
		if got.Duration < c.want || got.Duration > c.want+150*ms {
			t.Errorf("%s: the check took %v, want %v", c.what, got.Duration, c.want)
		}
	}
}
