package undertest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Checks are the check settings of a scenario's proxy: those of the first
// server of its (first group's) master backend, as the proxy runs them (the file's values
// with the scenario's overrides and the proxy's defaults applied).
type Checks struct {
	// Backend is the name of the master backend.
	Backend string
	// Inter, FastInter and DownInter are the check intervals (HAProxy's
	// inter, fastinter, downinter); Rise and Fall the consecutive results
	// that change the server's state.
	Inter, FastInter, DownInter time.Duration
	Rise, Fall                  int
	// TimeoutCheck is the backend's "timeout check", zero when not set (a
	// check then waits up to inter for a reply).
	TimeoutCheck time.Duration
	// TimeoutConnect is the backend's "timeout connect", zero when not set.
	TimeoutConnect time.Duration
	// Sends is the number of requests the check sends, each of which the
	// node answers.
	Sends int
	// OnReplica is how the check ends on a node that is a replica: "pass"
	// when it does not expect role:master; "fail" when the expectation
	// has a min-recv, so the first reply decides; "timeout" otherwise, as
	// the check waits for more data until it times out.
	OnReplica string
	// BacklogGuard reports a check that also expects
	// repl_backlog_active:1 (the seed's guard against a master that has
	// not taken writes yet).
	BacklogGuard bool
	// Balance is the master backend's balance algorithm.
	Balance config.Balance
}

// placeholderLayout builds a scenario's proxy configuration for
// placeholder node and Sentinel addresses: what depends on the scenario
// alone (check settings, whether the configuration fits the topology) can
// be learnt from it before any cluster exists.
func placeholderLayout(s *scenario.Scenario) (*ProxyLayout, error) {
	var nodes []NodeAddr
	for i, n := range s.NodeNames() {
		nodes = append(nodes, NodeAddr{Name: n, Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
	}
	// Only the Sentinel's presence matters.
	return BuildProxyConfig(s, nodes, []string{"127.0.0.1:26379"}, InProcess)
}

// ErrNoServers is returned by CheckSettings for a master backend without
// servers: it has no check settings.
var ErrNoServers = errors.New("the master backend has no servers")

// CheckSettings returns the check settings of a scenario's proxy, read from
// the configuration it runs with. Addresses play no part in them, so the
// configuration is built for placeholder nodes and a placeholder Sentinel.
func CheckSettings(s *scenario.Scenario) (Checks, error) {
	layout, err := placeholderLayout(s)
	if err != nil {
		return Checks{}, fmt.Errorf("read check settings: %w", err)
	}
	master := layout.Groups[0].MasterBackend
	be := layout.Config.Backend(master)
	if be == nil || len(be.Servers) == 0 {
		return Checks{}, fmt.Errorf("read check settings of %s: %w", master, ErrNoServers)
	}
	sv := be.Servers[0]
	c := Checks{
		Backend: be.Name, Inter: sv.Inter, FastInter: sv.FastInter, DownInter: sv.DownInter, Rise: sv.Rise, Fall: sv.Fall,
		TimeoutCheck: be.Timeouts.Check, TimeoutConnect: be.Timeouts.Connect, OnReplica: "pass", Balance: be.Balance,
	}
	for _, r := range be.CheckRules {
		if r.Action == tcpcheck.ActSend {
			c.Sends++
		}
		if r.Action != tcpcheck.ActExpect || r.Negate {
			continue
		}
		if strings.Contains(r.Pattern, "role:master") {
			c.OnReplica = "timeout"
			if r.MinRecv != 0 {
				c.OnReplica = "fail"
			}
		}
		if strings.Contains(r.Pattern, "repl_backlog_active:1") {
			c.BacklogGuard = true
		}
	}
	return c, nil
}
