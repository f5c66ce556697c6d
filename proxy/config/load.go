package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ResolveTimeout bounds the resolution of every server host name of a file
// ParseFile reads, all names together.
const ResolveTimeout = 5 * time.Second

// checkListeners reports a configuration that would accept nothing: no
// frontend or listen section with a bind line, and no stats socket. HAProxy
// counts the same listeners (the stats socket is one) and, with -c, says
// "Configuration file has no error but will not start (no listener)" and
// exits with status 2.
func checkListeners(c *Config, file string) Errors {
	if HasListener(c) {
		return nil
	}
	return Errors{{
		Pos: Pos{File: file, Line: 1},
		Msg: "no listener: the proxy would not start (HAProxy: \"will not start (no listener)\"); add a frontend or listen section with a 'bind' line, or a 'stats socket' in global",
	}}
}

// HasListener reports whether c accepts anything: a frontend or listen
// section with a bind line, or a stats socket.
func HasListener(c *Config) bool {
	if len(c.Global.StatsSockets) > 0 {
		return true
	}
	for _, f := range c.Frontends {
		if len(f.Binds) > 0 {
			return true
		}
	}
	return false
}

// resolver looks host names up; *net.Resolver is one.
type resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// resolveServers checks that the host name of every server resolves, as
// HAProxy does when it starts (it resolves them with the system's
// resolver, and an address it cannot resolve is a fatal error: "could not
// resolve address"). Names are looked up once each, in parallel, within
// ctx. Addresses that are IP literals need no lookup. The proxy still dials
// the name, so a name that moves later is followed.
func resolveServers(ctx context.Context, c *Config, r resolver) Errors {
	type query struct {
		host string
		err  error
	}
	var order []string
	servers := map[string][]*Server{}
	for _, b := range c.Backends {
		for _, s := range b.Servers {
			host, _, err := net.SplitHostPort(s.Addr)
			if err != nil || host == "" || net.ParseIP(host) != nil {
				continue
			}
			if _, ok := servers[host]; !ok {
				order = append(order, host)
			}
			servers[host] = append(servers[host], s)
		}
	}
	results := make(chan query, len(order))
	for _, h := range order {
		go func() {
			addrs, err := r.LookupHost(ctx, h)
			if err == nil && len(addrs) == 0 {
				err = errors.New("no address")
			}
			results <- query{h, err}
		}()
	}
	failed := map[string]error{}
	for range order {
		q := <-results
		if q.err != nil {
			failed[q.host] = q.err
		}
	}
	var errs Errors
	for _, b := range c.Backends {
		for _, s := range b.Servers {
			host, _, _ := net.SplitHostPort(s.Addr)
			err, ok := failed[host]
			if !ok {
				continue
			}
			why := err.Error()
			var de *net.DNSError
			if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) && de.IsTimeout {
				why = fmt.Sprintf("no answer within %v", ResolveTimeout)
			}
			errs = append(errs, Diagnostic{
				Pos: s.Pos, Section: sectionLabel(b.Listen, "backend", b.Name), Keyword: "server",
				Msg: fmt.Sprintf("server '%s': could not resolve address '%s' (%s)", s.Name, host, why),
			})
		}
	}
	return errs
}
