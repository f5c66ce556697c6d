package external

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// StartProxy is the proxy under test of an external deployment: the
// user's proxy when external.proxy names its ports, else the in-process
// redisha proxy pointed at the deployment's nodes (and Sentinels, when
// Sentinel-aware).
func StartProxy(ctx context.Context, s *scenario.Scenario, c rig.Cluster, log *slog.Logger) (rig.ProxyUnderTest, error) {
	p := s.External.Proxy
	if p.Master == "" {
		return undertest.StartInProcessProxy(ctx, s, c, log)
	}
	groups := s.ResolvedGroups()
	if len(groups) != 1 {
		return nil, fmt.Errorf("the user's proxy serves one group, the scenario has %d", len(groups))
	}
	u := &userProxy{fe: rig.Frontend{Group: groups[0].Name, MasterAddr: p.Master, ReplicaAddr: p.Replica}}
	if p.StatsCSV != "" {
		if cl, ok := c.(*cluster); ok && cl.proxy != nil {
			u.view = cl.proxy
		} else {
			v, err := InspectProxy(ctx, s, 0)
			if err != nil {
				return nil, err
			}
			u.view = v
		}
	}
	return u, nil
}

// userProxy is a proxy the run does not own: it is only connected to,
// and followed through its stats CSV when the scenario gives it.
type userProxy struct {
	fe   rig.Frontend
	view *ProxyView
}

func (u *userProxy) Describe() string {
	d := "the deployment's proxy at " + u.fe.MasterAddr + " (master)"
	if u.fe.ReplicaAddr != "" {
		d += " and " + u.fe.ReplicaAddr + " (replica)"
	}
	if u.view != nil {
		d += ", followed through " + u.view.URL
	}
	return d
}

func (u *userProxy) Frontends() []rig.Frontend { return []rig.Frontend{u.fe} }

// Watch follows the servers' states through the stats CSV; without one
// it has nothing to watch and waits for ctx.
func (u *userProxy) Watch(ctx context.Context, f func(rig.ProxyEvent)) error {
	if u.view == nil {
		<-ctx.Done()
		return nil
	}
	return u.view.watch(ctx, f)
}

func (u *userProxy) Instance() rig.Instance      { return nil }
func (u *userProxy) Close(context.Context) error { return nil }
