package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Sentinel roles: which nodes a backend with redis-sentinel routes to.
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
)

const sentinelUsage = "write 'redis-sentinel <master-name> <host:port>[,<host:port>...] [role master|replica] [quorum <n>] [password <password>]', e.g. 'redis-sentinel mymaster 10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379'"

var sentinelOptions = []string{"role", "quorum", "password"}

// kwRedisSentinel reads redisha-sim's extension
//
//	redis-sentinel <master-name> <host:port>[,<host:port>...] [role master|replica] [quorum <n>] [password <password>]
//
// The Sentinel addresses are one word, separated by commas and no spaces
// (as in 'bind'); the options follow in any order. role defaults to master,
// quorum to a majority of the addresses, password to none. A later line
// replaces an earlier one, and a backend inherits the line of its defaults
// section unless it has its own.
func (p *parser) kwRedisSentinel(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing master name and Sentinel addresses; %s", sentinelUsage)
	}
	if len(w) < 3 {
		if _, err := parseSentinelAddrs(w[1]); err == nil {
			return usage("missing master name before '%s'; %s", w[1], sentinelUsage)
		}
		return usage("missing Sentinel addresses after master name '%s'; %s", w[1], sentinelUsage)
	}
	if w[1] == "" {
		return usage("empty master name; %s", sentinelUsage)
	}
	addrs, err := parseSentinelAddrs(w[2])
	if err != nil {
		return usage("%v", err)
	}
	sn := &Sentinel{Pos: p.pos, MasterName: w[1], Addrs: addrs}
	for i := 3; i < len(w); i++ {
		opt := w[i]
		if !slices.Contains(sentinelOptions, opt) {
			if _, err := parseSentinelAddrs(opt); err == nil {
				return usage("unexpected address '%s': list the Sentinel addresses in one word separated by commas, e.g. 10.0.0.1:26379,10.0.0.2:26379", opt)
			}
			return usage("unknown option '%s'%s (valid: %s)", opt, didYouMean(opt, sentinelOptions), oneOf(sentinelOptions...))
		}
		if i+1 >= len(w) {
			return usage("'%s' needs a value", opt)
		}
		v := w[i+1]
		i++
		switch opt {
		case "role":
			if v != RoleMaster && v != RoleReplica {
				return usage("invalid role '%s'; valid: %s, %s", v, RoleMaster, RoleReplica)
			}
			sn.Role = v
		case "quorum":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > len(addrs) {
				return usage("invalid quorum '%s': want a number from 1 to %d (the number of Sentinel addresses)", v, len(addrs))
			}
			sn.Quorum = n
		case "password":
			sn.Password = v
		}
	}
	s.be.Sentinel = sn
	return nil
}

// parseSentinelAddrs reads a comma-separated list of Sentinel host:port
// addresses. The messages of its errors are complete.
func parseSentinelAddrs(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range strings.Split(list, ",") {
		if a == "" {
			return nil, fmt.Errorf("empty address in '%s': separate Sentinel addresses with single commas", list)
		}
		addr, err := checkSentinelAddr(a)
		if err != nil {
			return nil, err
		}
		if seen[addr] {
			return nil, fmt.Errorf("duplicate Sentinel address '%s'", a)
		}
		seen[addr] = true
		out = append(out, addr)
	}
	return out, nil
}

// checkSentinelAddr validates one Sentinel address and returns it in
// net.JoinHostPort's form.
func checkSentinelAddr(a string) (string, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return "", fmt.Errorf("invalid Sentinel address '%s': want <host>:<port>, e.g. 10.0.0.1:26379", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in Sentinel address '%s': want a number from 1 to 65535", a)
	}
	return net.JoinHostPort(host, port), nil
}

// normalize fills the defaults of a Sentinel built by a Go caller (the
// parser has checked the rest already) and returns what is wrong with it.
func (sn *Sentinel) normalize() []string {
	var errs []string
	if sn.MasterName == "" {
		errs = append(errs, "missing master name")
	}
	if len(sn.Addrs) == 0 {
		errs = append(errs, "no Sentinel address")
	}
	seen := map[string]bool{}
	for _, a := range sn.Addrs {
		addr, err := checkSentinelAddr(a)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if seen[addr] {
			errs = append(errs, fmt.Sprintf("duplicate Sentinel address '%s'", a))
		}
		seen[addr] = true
	}
	switch sn.Role {
	case "":
		sn.Role = RoleMaster
	case RoleMaster, RoleReplica:
	default:
		errs = append(errs, fmt.Sprintf("invalid role '%s'; valid: %s, %s", sn.Role, RoleMaster, RoleReplica))
	}
	switch {
	case sn.Quorum < 0 || sn.Quorum > len(sn.Addrs):
		errs = append(errs, fmt.Sprintf("invalid quorum %d: want a number from 1 to %d (the number of Sentinel addresses), or 0 for a majority", sn.Quorum, len(sn.Addrs)))
	case sn.Quorum == 0:
		sn.Quorum = len(sn.Addrs)/2 + 1
	}
	return errs
}
