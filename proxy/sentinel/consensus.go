package sentinel

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// answer is what one Sentinel said last.
type answer struct {
	// reachable is false while the Sentinel cannot be asked; it then does
	// not vote.
	reachable bool
	// master is the address the Sentinel names; empty when it does not know
	// the master name.
	master string
	// replicas are the master's replicas as this Sentinel lists them, sorted
	// by Addr; replicasKnown is false when the answer came from an event
	// that does not carry them.
	replicas      []Replica
	replicasKnown bool
}

func (a answer) equal(b answer) bool {
	return a.reachable == b.reachable && a.master == b.master &&
		a.replicasKnown == b.replicasKnown && slices.Equal(a.replicas, b.replicas)
}

// consensus computes the view of the Sentinels' last answers. It is pure:
// the rule is tested without sockets.
func consensus(name string, quorum int, answers []answer) View {
	v := View{Votes: map[string]int{}}
	for _, a := range answers {
		if !a.reachable {
			continue
		}
		v.Reachable++
		if a.master != "" {
			v.Votes[a.master]++
		}
	}
	// The most named master wins when it has the quorum and no other has
	// as many votes (possible only with a quorum of half or less).
	best, bestVotes, tie := "", 0, false
	for m, n := range v.Votes {
		switch {
		case n > bestVotes:
			best, bestVotes, tie = m, n, false
		case n == bestVotes:
			tie = true
		}
	}
	if bestVotes >= quorum && !tie {
		v.Master, v.Agreed = best, true
		v.Replicas = mergeReplicas(best, answers)
		return v
	}
	v.Reason = reason(name, quorum, len(answers), v)
	return v
}

// mergeReplicas lists the replicas that the Sentinels naming master list,
// each once. A replica is Down when at least half of the Sentinels listing
// it say so, and LinkOK when more than half say its link is up: in doubt,
// a replica is not used.
func mergeReplicas(master string, answers []answer) []Replica {
	type count struct{ listed, down, linkOK int }
	counts := map[string]*count{}
	for _, a := range answers {
		if !a.reachable || a.master != master || !a.replicasKnown {
			continue
		}
		for _, r := range a.replicas {
			c := counts[r.Addr]
			if c == nil {
				c = &count{}
				counts[r.Addr] = c
			}
			c.listed++
			if r.Down {
				c.down++
			}
			if r.LinkOK {
				c.linkOK++
			}
		}
	}
	var out []Replica
	for _, addr := range slices.Sorted(maps.Keys(counts)) {
		c := counts[addr]
		out = append(out, Replica{Addr: addr, Down: 2*c.down >= c.listed, LinkOK: 2*c.linkOK > c.listed})
	}
	return out
}

// reason says why the Sentinels of v do not agree.
func reason(name string, quorum, total int, v View) string {
	var parts []string
	if down := total - v.Reachable; down > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d Sentinels unreachable", down, total))
	}
	voters := 0
	for _, n := range v.Votes {
		voters += n
	}
	if silent := v.Reachable - voters; silent > 0 {
		parts = append(parts, fmt.Sprintf("%d reachable Sentinels do not know master '%s'", silent, name))
	}
	switch len(v.Votes) {
	case 0:
	case 1:
		for m, n := range v.Votes {
			parts = append(parts, fmt.Sprintf("%s named by only %d", m, n))
		}
	default:
		parts = append(parts, "Sentinels disagree: "+formatVotes(v.Votes))
	}
	if len(parts) == 0 {
		parts = append(parts, "no Sentinel configured")
	}
	return fmt.Sprintf("%s (quorum %d)", strings.Join(parts, "; "), quorum)
}

// formatVotes lists votes as "a by 2, b by 1", most votes first.
func formatVotes(votes map[string]int) string {
	masters := slices.Sorted(maps.Keys(votes))
	slices.SortStableFunc(masters, func(a, b string) int { return votes[b] - votes[a] })
	parts := make([]string, len(masters))
	for i, m := range masters {
		parts[i] = fmt.Sprintf("%s by %d", m, votes[m])
	}
	return strings.Join(parts, ", ")
}

// sameView reports whether two views say the same, whatever caused them.
func sameView(a, b View) bool {
	return a.Master == b.Master && a.Agreed == b.Agreed && a.Reachable == b.Reachable &&
		a.Reason == b.Reason && maps.Equal(a.Votes, b.Votes) && slices.Equal(a.Replicas, b.Replicas)
}
