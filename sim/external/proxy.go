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
// user's proxy when the scenario names its ports (external.proxy with one
// group, topology.groups[].proxy with several), else the in-process
// redisha proxy pointed at the deployment's nodes (and Sentinels, when
// Sentinel-aware).
func StartProxy(ctx context.Context, s *scenario.Scenario, c rig.Cluster, log *slog.Logger) (rig.ProxyUnderTest, error) {
	ups := s.UserProxy()
	if len(ups) == 0 {
		return undertest.StartInProcessProxy(ctx, s, c, log)
	}
	u := &userProxy{}
	for _, up := range ups {
		if up.Master == "" {
			return nil, fmt.Errorf("the user's proxy: %s.proxy.master: group %s has no master port", up.Field, up.Group)
		}
		u.fes = append(u.fes, rig.Frontend{Group: up.Group, MasterAddr: up.Master, ReplicaAddr: up.Replica})
	}
	if s.External.Proxy.StatsCSV != "" {
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
	// fes are its ports, a pair per group in the topology's order.
	fes  []rig.Frontend
	view *ProxyView
}

func (u *userProxy) Describe() string {
	d := "the deployment's proxy at "
	for i, fe := range u.fes {
		if i > 0 {
			d += ", "
		}
		d += fe.MasterAddr + " (master)"
		if fe.ReplicaAddr != "" {
			d += " and " + fe.ReplicaAddr + " (replica)"
		}
		if len(u.fes) > 1 {
			d += " for " + fe.Group
		}
	}
	if u.view != nil {
		d += ", followed through " + u.view.URL
	}
	return d
}

func (u *userProxy) Frontends() []rig.Frontend { return u.fes }

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
