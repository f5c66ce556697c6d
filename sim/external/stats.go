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
// which backend serves which port, and which server is which node.
type ProxyView struct {
	// URL is the stats URL, its password redacted.
	URL string
	// Ports maps a backend (pxname) to the port it serves: "master" or
	// "replica".
	Ports map[string]string
	// Servers maps "backend/server" to the node it is.
	Servers map[string]string
	// Unmapped are the servers of the ports' backends that are no node
	// of the scenario ("backend/server").
	Unmapped []string
	raw      string
}

// InspectProxy reads the user's proxy's stats CSV once and maps it onto
// the scenario (nil, nil when the scenario gives no stats_csv): a server
// is a node when its addr column is the node's address as Sentinel
// reports it (or that address's host resolved), or else when its name is
// the node's name. It refuses a CSV that cannot be read, that maps no
// server to a node, or whose master backend is ambiguous.
func InspectProxy(ctx context.Context, s *scenario.Scenario, timeout time.Duration) (*ProxyView, error) {
	p := s.External.Proxy
	if p.StatsCSV == "" {
		return nil, nil
	}
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	u, err := url.Parse(p.StatsCSV)
	if err != nil {
		return nil, fmt.Errorf("external.proxy.stats_csv: not a URL")
	}
	v := &ProxyView{URL: u.Redacted(), Ports: map[string]string{}, Servers: map[string]string{}, raw: p.StatsCSV}
	rows, err := fetchStats(ctx, &http.Client{}, p.StatsCSV, timeout)
	if err != nil {
		return nil, fmt.Errorf("the proxy's stats %s: %w", v.URL, err)
	}
	match := nodeMatcher(ctx, s.External.Nodes, timeout)
	byBackend := map[string][]string{}
	var backends []string
	for _, r := range rows {
		if !slices.Contains(backends, r.Backend) {
			backends = append(backends, r.Backend)
		}
		if n := match(r); n != "" {
			v.Servers[r.Backend+"/"+r.Server] = n
			byBackend[r.Backend] = append(byBackend[r.Backend], r.Server+"="+n)
		}
	}
	var withNodes []string
	for _, b := range backends {
		if len(byBackend[b]) > 0 {
			withNodes = append(withNodes, b)
		}
	}
	if len(withNodes) == 0 {
		return nil, fmt.Errorf("the proxy's stats %s: no server is a node of external.nodes (by its addr column or its name; backends: %s)", v.URL, orNone(backends))
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
				return "", fmt.Errorf("external.proxy.%s %q: the proxy's stats %s have no such backend (backends: %s)", key, given, v.URL, orNone(backends))
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
		if len(found) > 1 {
			return "", fmt.Errorf("the proxy's stats %s: backends %s could each serve the %s port: say which with external.proxy.%s", v.URL, strings.Join(found, ", "), strings.TrimSuffix(key, "_backend"), key)
		}
		if len(found) == 1 {
			return found[0], nil
		}
		return "", nil
	}
	master, err := pick(p.MasterBackend, "master_backend", "master")
	if err != nil {
		return nil, err
	}
	replica, err := pick(p.ReplicaBackend, "replica_backend", "replica", "slave")
	if err != nil {
		return nil, err
	}
	if master == "" && len(withNodes) == 1 && withNodes[0] != replica {
		master = withNodes[0]
	}
	if master == "" {
		return nil, fmt.Errorf("the proxy's stats %s: which backend serves the master port? backends with nodes: %s; say it with external.proxy.master_backend", v.URL, listing())
	}
	v.Ports[master] = timeline.PortMaster
	if replica != "" && replica != master {
		v.Ports[replica] = timeline.PortReplica
	}
	for _, r := range rows {
		key := r.Backend + "/" + r.Server
		if v.Ports[r.Backend] != "" && v.Servers[key] == "" {
			v.Unmapped = append(v.Unmapped, key)
		}
	}
	return v, nil
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// nodeMatcher names the node a CSV row is: by its addr column, equal to
// a node's address or to that address with its host resolved (HAProxy
// shows the IP it connects to), else by its server name.
func nodeMatcher(ctx context.Context, nodes []scenario.ExternalNode, timeout time.Duration) func(undertest.StatsRow) string {
	byAddr, byName := map[string]string{}, map[string]string{}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, n := range nodes {
		byAddr[n.Addr] = n.Name
		byName[n.Name] = n.Name
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
		return byName[r.Server]
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
