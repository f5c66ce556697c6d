package external

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

const (
	// maxStatsBytes bounds the stats CSV read: an HAProxy with a few
	// thousand servers is well under it.
	maxStatsBytes = 4 << 20
	// statsPoll is how often the stats CSV is read during a run: the
	// resolution of the proxy's events on the timeline.
	statsPoll = 100 * time.Millisecond
)

// ProxyView is how the user's proxy's stats CSV maps onto the scenario:
// which backend serves which port of which group, and which server is
// which node.
type ProxyView struct {
	// URL is the stats URL, its password redacted.
	URL string
	// Ports maps a backend (pxname) to the port it serves: "master" or
	// "replica".
	Ports map[string]string
	// Groups maps a backend of Ports to the group whose port it serves.
	Groups map[string]string
	// Servers maps "backend/server" to the node it is.
	Servers map[string]string
	// Unmapped are the servers of the ports' backends that are no node
	// of the scenario ("backend/server").
	Unmapped []string
	raw      string
}

// InspectProxy reads the user's proxy's stats CSV once and maps it onto
// the scenario (nil, nil when the scenario gives no stats_csv), each
// group's ports on their own: a server of a group's backend is one of
// the group's nodes when its addr column is the node's address as
// Sentinel reports it (or that address's host resolved), or else when its
// name is the node's name (with several groups, also the node's name
// after its last '.', '-' or '_': server redis1 of back_redis_master2 is
// node set2-redis1 of group set2). A group's backends are the ones the
// scenario names (master_backend, replica_backend), else the backend
// with the group's nodes whose name holds "master" and the one whose name
// holds "replica" or "slave"; when that is ambiguous and several groups
// find as many candidates as there are groups, group i takes the i-th
// (the configuration's pairs in order, as on the other backends). It
// refuses a CSV that cannot be read, a group none of whose servers is a
// node, a master backend it cannot tell, and two groups on one backend.
func InspectProxy(ctx context.Context, s *scenario.Scenario, timeout time.Duration) (*ProxyView, error) {
	p := s.External.Proxy
	ups := s.UserProxy()
	if p.StatsCSV == "" || len(ups) == 0 {
		return nil, nil
	}
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	u, err := url.Parse(p.StatsCSV)
	if err != nil {
		return nil, fmt.Errorf("external.proxy.stats_csv: not a URL")
	}
	v := &ProxyView{URL: u.Redacted(), Ports: map[string]string{}, Groups: map[string]string{}, Servers: map[string]string{}, raw: p.StatsCSV}
	rows, err := fetchStats(ctx, &http.Client{}, p.StatsCSV, timeout)
	if err != nil {
		return nil, fmt.Errorf("the proxy's stats %s: %w", v.URL, err)
	}
	var backends []string
	for _, r := range rows {
		if !slices.Contains(backends, r.Backend) {
			backends = append(backends, r.Backend)
		}
	}
	groups := s.ResolvedGroups()
	several := len(ups) > 1
	matchers := make([]func(undertest.StatsRow) string, len(ups))
	for i, up := range ups {
		matchers[i] = nodeMatcher(ctx, groupNodes(s, groupNamed(groups, up.Group)), timeout, several)
		master, replica, err := pickBackends(v.URL, rows, backends, up, i, len(ups), matchers[i])
		if err != nil {
			return nil, err
		}
		for _, b := range []struct{ name, port, key string }{{master, timeline.PortMaster, "master_backend"}, {replica, timeline.PortReplica, "replica_backend"}} {
			if b.name == "" {
				continue
			}
			if g, taken := v.Groups[b.name]; taken {
				return nil, fmt.Errorf("the proxy's stats %s: backend %s serves group %s and group %s: say which backend serves each with %s.%s", v.URL, b.name, g, up.Group, up.Field, b.key)
			}
			v.Ports[b.name], v.Groups[b.name] = b.port, up.Group
		}
	}
	for _, r := range rows {
		key := r.Backend + "/" + r.Server
		if v.Ports[r.Backend] == "" {
			continue
		}
		i := slices.IndexFunc(ups, func(up scenario.UserProxyGroup) bool { return up.Group == v.Groups[r.Backend] })
		if n := matchers[i](r); n != "" {
			v.Servers[key] = n
		} else {
			v.Unmapped = append(v.Unmapped, key)
		}
	}
	return v, nil
}

// groupNamed is the group of that name (the first group when none is).
func groupNamed(groups []scenario.Group, name string) scenario.Group {
	for _, g := range groups {
		if g.Name == name {
			return g
		}
	}
	return groups[0]
}

// pickBackends finds the backends of the stats CSV behind one group's
// master and replica ports (group i of n; match names the group's nodes):
// see InspectProxy.
func pickBackends(url string, rows []undertest.StatsRow, backends []string, up scenario.UserProxyGroup, i, n int, match func(undertest.StatsRow) string) (master, replica string, err error) {
	byBackend := map[string][]string{}
	for _, r := range rows {
		if nd := match(r); nd != "" {
			byBackend[r.Backend] = append(byBackend[r.Backend], r.Server+"="+nd)
		}
	}
	var withNodes []string
	for _, b := range backends {
		if len(byBackend[b]) > 0 {
			withNodes = append(withNodes, b)
		}
	}
	ofGroup := ""
	if n > 1 {
		ofGroup = " of group " + up.Group
	}
	if len(withNodes) == 0 {
		what, by := "a node of external.nodes", "its addr column or its name"
		if n > 1 {
			what, by = "a node of group "+up.Group, "its addr column, its name or the end of its name"
		}
		return "", "", fmt.Errorf("the proxy's stats %s: no server is %s (by %s; backends: %s)", url, what, by, orNone(backends))
	}
	listing := func() string {
		var out []string
		for _, b := range withNodes {
			out = append(out, b+" ("+strings.Join(byBackend[b], " ")+")")
		}
		return strings.Join(out, ", ")
	}
	pick := func(given, key string, words ...string) (string, error) {
		if given != "" {
			if !slices.Contains(backends, given) {
				return "", fmt.Errorf("%s.%s %q: the proxy's stats %s have no such backend (backends: %s)", up.Field, key, given, url, orNone(backends))
			}
			return given, nil
		}
		var found []string
		for _, b := range withNodes {
			for _, w := range words {
				if strings.Contains(strings.ToLower(b), w) {
					found = append(found, b)
					break
				}
			}
		}
		switch {
		case len(found) == 1:
			return found[0], nil
		case len(found) > 1 && len(found) == n:
			// The configuration's pairs in order.
			return found[i], nil
		case len(found) > 1:
			return "", fmt.Errorf("the proxy's stats %s: backends %s could each serve the %s port%s: say which with %s.%s", url, strings.Join(found, ", "), strings.TrimSuffix(key, "_backend"), ofGroup, up.Field, key)
		}
		return "", nil
	}
	if master, err = pick(up.MasterBackend, "master_backend", "master"); err != nil {
		return "", "", err
	}
	if replica, err = pick(up.ReplicaBackend, "replica_backend", "replica", "slave"); err != nil {
		return "", "", err
	}
	if master == "" && len(withNodes) == 1 && withNodes[0] != replica {
		master = withNodes[0]
	}
	if master == "" {
		return "", "", fmt.Errorf("the proxy's stats %s: which backend serves the master port%s? backends with nodes: %s; say it with %s.master_backend", url, ofGroup, listing(), up.Field)
	}
	if replica == master {
		replica = ""
	}
	return master, replica, nil
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// nodeMatcher names the node a CSV row is: by its addr column, equal to
// a node's address or to that address with its host resolved (HAProxy
// shows the IP it connects to), else by its server name; with suffixes
// (several groups, each matched on its own), a row whose addr is no node
// is none, and one without addr is also matched by the node's name after
// its last '.', '-' or '_' when no other node's name ends so.
func nodeMatcher(ctx context.Context, nodes []scenario.ExternalNode, timeout time.Duration, suffixes bool) func(undertest.StatsRow) string {
	byAddr, byName, bySuffix := map[string]string{}, map[string]string{}, map[string]string{}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, n := range nodes {
		byAddr[n.Addr] = n.Name
		byName[n.Name] = n.Name
		if i := strings.LastIndexAny(n.Name, ".-_"); suffixes && i >= 0 && i < len(n.Name)-1 {
			suf := n.Name[i+1:]
			if _, dup := bySuffix[suf]; dup {
				bySuffix[suf] = "" // two nodes: neither
			} else {
				bySuffix[suf] = n.Name
			}
		}
		host, port, err := net.SplitHostPort(n.Addr)
		if err != nil || net.ParseIP(host) != nil {
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(rctx, host)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if a := net.JoinHostPort(ip, port); byAddr[a] == "" {
				byAddr[a] = n.Name
			}
		}
	}
	return func(r undertest.StatsRow) string {
		if n := byAddr[r.Addr]; r.Addr != "" && n != "" {
			return n
		}
		if suffixes && r.Addr != "" {
			// Another group's server, by its address.
			return ""
		}
		if n := byName[r.Server]; n != "" {
			return n
		}
		return bySuffix[r.Server]
	}
}

// fetchStats reads the stats CSV at raw, bounded in time and size; the
// URL's user and password, if any, are sent as basic auth.
func fetchStats(ctx context.Context, hc *http.Client, raw string, timeout time.Duration) ([]undertest.StatsRow, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxStatsBytes {
		return nil, fmt.Errorf("more than %d bytes", maxStatsBytes)
	}
	return undertest.ParseStatsCSV(bytes.NewReader(body))
}

// watch polls the stats CSV until ctx is done and reports every
// change of a mapped server's state (UP or not), timestamped when the
// poll saw it: within statsPoll of the change. A poll that fails is
// skipped.
func (v *ProxyView) watch(ctx context.Context, f func(rig.ProxyEvent)) error {
	hc := &http.Client{}
	last := map[string]bool{}
	t := time.NewTicker(statsPoll)
	defer t.Stop()
	for {
		rows, err := fetchStats(ctx, hc, v.raw, time.Second)
		at := time.Now()
		if err == nil {
			for _, r := range rows {
				port := v.Ports[r.Backend]
				if port == "" {
					continue
				}
				key := r.Backend + "/" + r.Server
				up := r.Up()
				if prev, seen := last[key]; seen && prev == up {
					continue
				}
				last[key] = up
				f(rig.ProxyEvent{At: at, Port: port, Node: v.Servers[key], Up: up, State: r.Status, Detail: r.Detail})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
