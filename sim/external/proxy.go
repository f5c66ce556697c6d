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
	return &userProxy{fe: rig.Frontend{Group: groups[0].Name, MasterAddr: p.Master, ReplicaAddr: p.Replica}}, nil
}

// userProxy is a proxy the run does not own: it is only connected to.
type userProxy struct{ fe rig.Frontend }

func (u *userProxy) Describe() string {
	d := "the deployment's proxy at " + u.fe.MasterAddr + " (master)"
	if u.fe.ReplicaAddr != "" {
		d += " and " + u.fe.ReplicaAddr + " (replica)"
	}
	return d
}

func (u *userProxy) Frontends() []rig.Frontend { return []rig.Frontend{u.fe} }

// Watch has nothing to watch yet (the stats CSV is not read): it waits
// for ctx.
func (u *userProxy) Watch(ctx context.Context, _ func(rig.ProxyEvent)) error {
	<-ctx.Done()
	return nil
}

func (u *userProxy) Instance() rig.Instance      { return nil }
func (u *userProxy) Close(context.Context) error { return nil }
