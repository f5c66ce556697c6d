package external

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/internal/proc"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Plan is the dry run of an external scenario: it checks the deployment
// as Start does (Inspect), changing nothing and writing no key, and
// writes to w what the run would do: each fault at its time, on the node
// its target names now, with the command it would run.
func Plan(ctx context.Context, s *scenario.Scenario, timeout time.Duration, w io.Writer) error {
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	st, err := inspect(ctx, s, timeout)
	if err != nil {
		return err
	}
	d := s.External
	fmt.Fprintf(w, "dry run of %s on the external deployment (nothing applied: --allow-faults applies the faults)\n", s.Name)
	groups := s.ResolvedGroups()
	ups := s.UserProxy()
	if len(ups) == 0 {
		fmt.Fprintln(w, "  proxy: this project's, in-process, pointed at the nodes")
	}
	for _, g := range groups {
		if len(groups) > 1 {
			fmt.Fprintf(w, "  group %s:\n", g.Name)
		}
		fmt.Fprintf(w, "  sentinels: %d agree that %s is the master of %s (%v)\n", len(d.Sentinels), st.Masters[g.Name], g.MasterName, st.Settings[g.Name])
		for _, up := range ups {
			if up.Group != g.Name {
				continue
			}
			line := "  the user's proxy: master port " + up.Master
			if up.Replica != "" {
				line += ", replica port " + up.Replica
			}
			fmt.Fprintln(w, line)
		}
		for _, n := range groupNodes(s, g) {
			if why, down := st.Down[n.Name]; down {
				fmt.Fprintf(w, "  node %s at %s: down (%s); allowed by external.allow_degraded\n", n.Name, n.Addr, why)
				continue
			}
			fmt.Fprintf(w, "  node %s at %s: %s, pid %s\n", n.Name, n.Addr, st.Roles[n.Name], st.PIDs[n.Name])
		}
	}
	for _, a := range st.Extra {
		fmt.Fprintf(w, "  note: the Sentinels also report a replica at %s, which is no node of the scenario\n", a)
	}
	if v := st.Proxy; v != nil {
		for _, b := range slices.Sorted(maps.Keys(v.Ports)) {
			var servers []string
			for _, k := range slices.Sorted(maps.Keys(v.Servers)) {
				if be, sv, _ := strings.Cut(k, "/"); be == b {
					servers = append(servers, sv+"="+v.Servers[k])
				}
			}
			ofGroup := ""
			if len(groups) > 1 {
				ofGroup = " of group " + v.Groups[b]
			}
			fmt.Fprintf(w, "  proxy stats %s: backend %s serves the %s port%s: %s\n", v.URL, b, v.Ports[b], ofGroup, strings.Join(servers, " "))
		}
		for _, k := range v.Unmapped {
			fmt.Fprintf(w, "  note: the proxy's server %s is no node of the scenario\n", k)
		}
	}
	if len(s.Faults) == 0 {
		fmt.Fprintln(w, "  no faults")
	}
	named := map[string]string{}
	pauses := pauseLengths(s)
	npause := 0
	for _, f := range s.Faults {
		target := f.Target
		group, role := groups[0], target
		if gn, r, ok := strings.Cut(target, "."); ok && (r == "master" || r == "replica") {
			for _, g := range groups {
				if g.Name == gn {
					group, role = g, r
				}
			}
		}
		switch {
		case named[target] != "":
			target = named[target]
		case role == "master":
			target = st.Masters[group.Name]
		case role == "replica":
			for _, n := range group.Nodes {
				if n != st.Masters[group.Name] {
					target = n
					break
				}
			}
		}
		if f.As != "" {
			named[f.As] = target
		}
		n, ok := s.ExternalNode(target)
		what := ""
		si := slices.Index(s.SentinelNames(), target)
		switch tmpl := n.Faults[string(f.Action)]; {
		case si >= 0 && si < len(d.Sentinels):
			se := d.Sentinels[si]
			tmpl = se.Faults[string(f.Action)]
			if tmpl == "" {
				what = "no command for " + string(f.Action) + " on this Sentinel"
				break
			}
			pid := ""
			if strings.Contains(tmpl, "{pid}") {
				if p, err := processID(ctx, se.Addr, s.Sentinel.Password, timeout); err == nil {
					pid = p
				}
			}
			what = proc.Describe(proc.Shell(Expand(tmpl, target, se.Addr, pid)))
		case !ok:
			what = "not a node: the external backend cannot fault it"
		case tmpl != "" && f.Action != fault.Failover:
			what = proc.Describe(proc.Shell(Expand(tmpl, n.Name, n.Addr, st.PIDs[n.Name])))
		case f.Action == fault.Pause:
			length := 10 * time.Second
			if npause < len(pauses) {
				length = pauses[npause]
			}
			what = fmt.Sprintf("CLIENT PAUSE %d ALL", length.Milliseconds())
		case f.Action == fault.Unpause:
			what = "wait for the CLIENT PAUSE to end"
		case f.Action == fault.Failover:
			what = "SENTINEL FAILOVER " + groupOf(s, target).MasterName
		case f.Action == fault.Kill:
			what = "DEBUG SEGFAULT (native)"
			if why := st.Debug[n.Name]; why != "" {
				what = "a command is needed: " + killNeedsCommand(why)
			} else if n.Faults[string(fault.Start)] == "" {
				what += "; nothing native starts it again: without external.nodes[].faults.start it stays down after the run"
			}
		default:
			what = "no command for " + string(f.Action)
		}
		if f.Action == fault.Pause {
			npause++
		}
		resolved := target
		if target != f.Target {
			resolved = fmt.Sprintf("%s (now %s)", f.Target, target)
		}
		fmt.Fprintf(w, "  at %v: %s %s: %s\n", f.At, f.Action, resolved, what)
	}
	// The run would refuse a kill without a command on a node that
	// refuses DEBUG: so does the dry run, after its plan.
	return st.nativeKillRefused()
}
