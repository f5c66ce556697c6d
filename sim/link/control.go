package link

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// The control endpoint is HTTP on its own port: POST /faults with a
// Request as JSON applies it (204; 400 with the reason as text on a bad
// request), GET /healthz answers 204. Requests are bounded in size
// (maxRequest) and time. It was chosen over `docker exec` of a command
// in the container: a POST took 0.5 ms from the host, an exec of
// redisha-sim 111 ms and a process per fault (sim/docker's
// BenchmarkRelayControl, 20 each, on a loaded 2-core machine).
const (
	maxRequest     = 64 << 10
	controlTimeout = 5 * time.Second
)

// Request is one fault for a relay: on its own rules when Peers is empty,
// else on the rules of the connections from Peers.
type Request struct {
	Fault fault.LinkFault
	Peers []netip.Addr `json:",omitempty"`
}

func newControlServer(r *Relay) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, hr *http.Request) {
		var req Request
		dec := json.NewDecoder(http.MaxBytesReader(w, hr.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "decode the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := r.Apply(req.Fault, req.Peers); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.log.Debug("relay: fault", "action", req.Fault.Action, "peers", req.Fault.Classes(), "direction", req.Fault.Dirs(), "from", req.Peers)
		w.WriteHeader(http.StatusNoContent)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: controlTimeout, ReadTimeout: controlTimeout,
		WriteTimeout: controlTimeout, IdleTimeout: 30 * time.Second, MaxHeaderBytes: maxRequest}
}

// Send posts a request to the control endpoint at addr (host:port) and
// returns once the relay has applied it.
func Send(ctx context.Context, hc *http.Client, addr string, req Request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/faults", bytes.NewReader(b))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("relay %s: %w", addr, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("relay %s: %s: %s", addr, res.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Healthy reports whether the control endpoint at addr answers.
func Healthy(ctx context.Context, hc *http.Client, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(hr)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("relay %s: %s", addr, res.Status)
	}
	return nil
}

// Placement is where one part of a fault goes: the relay of instance
// Relay, on its own rules (From empty) or on the connections from the
// instance From.
type Placement struct {
	Relay string
	From  string
	Fault fault.LinkFault
}

// Place maps a fault on target (of class targetClass among its peers:
// Nodes for a Redis node, Sentinels for a Sentinel) to the relays that
// apply it. A connection between two instances passes through the
// acceptor's relay only, so:
//
//   - the target's relay applies f to the connections from the peers f
//     names, as it is;
//   - every other member Y of a peer class f names (nodes, sentinels;
//     clients have no relay) applies f to the connections from the
//     target (the target connected to Y: a replica to its master, a
//     Sentinel to a node or another Sentinel), with the peer class being
//     the target's class and the direction mirrored: what the target
//     hears (in) is what Y sends on them (out).
//
// A bandwidth is then shared per relay: by the target's connections
// through its own relay, and separately by those through each peer's
// (in practice one side carries a link's traffic: a replica's through
// its master's relay, a Sentinel's through the node's).
//
// members lists the instances of each class by name.
func Place(target string, targetClass Class, f fault.LinkFault, members map[Class][]string) ([]Placement, error) {
	classes, dirs, err := Classes(f)
	if err != nil {
		return nil, err
	}
	out := []Placement{{Relay: target, Fault: f}}
	mirror := f
	mirror.Peers = []string{targetClass.String()}
	switch len(dirs) {
	case 1:
		mirror.Direction = dirs[0].Mirror().String()
	default:
		mirror.Direction = ""
	}
	for _, c := range classes {
		if c == Clients {
			continue
		}
		for _, m := range members[c] {
			if m != target {
				out = append(out, Placement{Relay: m, From: target, Fault: mirror})
			}
		}
	}
	return out, nil
}
