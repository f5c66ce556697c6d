package verdict

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// ElectionDelay is a failover that needed more than one election: the
// first Sentinel to try was not elected (too few votes, other Sentinels
// having voted for another leader in that epoch), and the failover waited
// for a later attempt, in a later epoch. Sentinel's semantics
// (sentinel.c): a Sentinel starting a failover takes a new epoch
// (+new-epoch, then +try-failover "master <name> <ip> <port>") and votes
// for itself; another votes once per master and epoch for the first
// leader that asks (+vote-for-leader "<runid> <epoch>", no master name),
// and having voted for another it starts no failover of that master for
// 2 × failover-timeout; a candidate short of a majority and the quorum
// gives up after the election timeout (-failover-abort-not-elected) and
// may retry after 2 × failover-timeout.
type ElectionDelay struct {
	// Group is the group whose master failed over ("" in a run with one).
	Group string
	// Attempts are the elections of the failover in the order they were
	// tried, the one won last.
	Attempts []Election
	// Won is false when no election was won by the end of the run.
	Won bool
	// Lost is the time from the first attempt to the one that won (to
	// the end of the run when none won); for a stale epoch, from the
	// first votes to the votes re-cast in the current epoch.
	Lost time.Duration
	// StaleEpoch is set when the winning attempt's votes did not count:
	// its Sentinel took a newer epoch (StaleEpoch) for another master's
	// failover before it was elected, and sentinel.c's leader count takes
	// only votes cast in the Sentinel's current epoch, so the election
	// waited for the voters to vote again in StaleEpoch, at the next
	// is-master-down-by-addr round (every second), at RecastAt
	// (sim/model/TIMING.md §2).
	StaleEpoch uint64
	RecastAt   time.Duration
}

// Election is one Sentinel's attempt to lead a failover.
type Election struct {
	At       time.Duration
	Sentinel string
	// Epoch is the epoch the Sentinel took for it (0 when its +new-epoch
	// was not recorded).
	Epoch uint64
	// Won is set when the Sentinel was elected (+elected-leader);
	// Aborted when it gave up (-failover-abort-not-elected).
	Won, Aborted bool
	// Votes are the votes cast in the epoch for this failover's leaders.
	Votes []Vote

	decided time.Duration // when it was won or aborted
	movedTo uint64        // the Sentinel's epoch when it was decided, if newer
}

// Vote is one Sentinel's vote.
type Vote struct {
	Voter, For string
}

// String is the report's line, e.g. "group2: failover delayed 12.400s:
// election in epoch 2 by sentinel1 not won (sentinel2 voted sentinel3),
// won in epoch 4 by sentinel3".
func (d ElectionDelay) String() string {
	var b strings.Builder
	if d.Group != "" {
		b.WriteString(d.Group + ": ")
	}
	if d.StaleEpoch != 0 && len(d.Attempts) > 0 {
		a := d.Attempts[len(d.Attempts)-1]
		fmt.Fprintf(&b, "failover delayed %.3fs: the votes for %s in epoch %d did not count once its epoch had moved to %d (failovers of other masters); re-cast in epoch %d at %.3fs",
			d.Lost.Seconds(), a.Sentinel, a.Epoch, d.StaleEpoch, d.StaleEpoch, d.RecastAt.Seconds())
		return b.String()
	}
	if d.Won {
		fmt.Fprintf(&b, "failover delayed %.3fs: ", d.Lost.Seconds())
	} else {
		fmt.Fprintf(&b, "failover not elected in %.3fs: ", d.Lost.Seconds())
	}
	var lost []string
	var won *Election
	for i := range d.Attempts {
		a := &d.Attempts[i]
		if a.Won {
			won = a
			continue
		}
		s := fmt.Sprintf("epoch %d by %s", a.Epoch, a.Sentinel)
		var why []string
		for _, v := range a.Votes {
			switch {
			case v.For == a.Sentinel:
			case v.Voter == v.For:
				why = append(why, v.Voter+" voted for itself")
			default:
				why = append(why, v.Voter+" voted "+v.For)
			}
		}
		if a.Aborted {
			why = append(why, "aborted")
		}
		if len(why) > 0 {
			s += " (" + strings.Join(why, ", ") + ")"
		}
		lost = append(lost, s)
	}
	if len(lost) == 1 {
		b.WriteString("election in " + lost[0] + " not won")
	} else {
		b.WriteString("elections in " + strings.Join(lost, ", ") + " not won")
	}
	if won != nil {
		fmt.Fprintf(&b, ", won in epoch %d by %s", won.Epoch, won.Sentinel)
	}
	return b.String()
}

// sentinelRunIDs names the Sentinels' run ids, which votes carry: a
// Sentinel starting a failover votes for itself first, so the first vote
// it casts in the epoch of its own +try-failover is for its own run id.
func sentinelRunIDs(tl *timeline.Timeline) map[string]string {
	ids := map[string]string{}
	named := map[string]bool{}
	epoch := map[string]uint64{} // per Sentinel, its current epoch
	trying := map[string]uint64{}
	for _, e := range tl.Events {
		if e.Kind != timeline.KindSentinel {
			continue
		}
		switch e.Name {
		case "+new-epoch":
			if n, err := strconv.ParseUint(strings.TrimSpace(e.Detail), 10, 64); err == nil {
				epoch[e.Source] = n
			}
		case "+try-failover":
			trying[e.Source] = epoch[e.Source]
		case "+vote-for-leader":
			id, ep, ok := parseVote(e.Detail)
			if !ok {
				continue
			}
			if want, ok := trying[e.Source]; ok && want == ep {
				delete(trying, e.Source)
				if _, taken := ids[id]; !taken && !named[e.Source] {
					ids[id], named[e.Source] = e.Source, true
				}
			}
		}
	}
	return ids
}

// parseVote reads a +vote-for-leader payload: "<runid> <epoch>".
func parseVote(detail string) (string, uint64, bool) {
	f := strings.Fields(detail)
	if len(f) != 2 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return f[0], n, true
}

// electionDelays finds the failovers whose winning election was not the
// first one tried. tl is one group's timeline (GroupTimeline; the whole
// timeline in a run with one group): the group's Sentinel events and the
// cluster-wide ones, votes and epochs among them. runids names the
// Sentinels' run ids (sentinelRunIDs of the whole run). A vote counts for
// an attempt when it was cast in the attempt's epoch for a Sentinel that
// tried this group's failover in that epoch: a Sentinel takes a new epoch
// for every failover it starts, so that pair names one failover.
func electionDelays(tl *timeline.Timeline, group string, runids map[string]string) []ElectionDelay {
	epoch := map[string]uint64{}
	var attempts []Election
	last := map[string]int{} // per Sentinel, its latest attempt
	var votes []castVote
	for _, e := range tl.Events {
		if e.Kind != timeline.KindSentinel {
			continue
		}
		switch e.Name {
		case "+new-epoch":
			if n, err := strconv.ParseUint(strings.TrimSpace(e.Detail), 10, 64); err == nil {
				epoch[e.Source] = n
			}
		case "+try-failover":
			attempts = append(attempts, Election{At: e.T, Sentinel: e.Source, Epoch: epoch[e.Source]})
			last[e.Source] = len(attempts) - 1
		case "+elected-leader", "-failover-abort-not-elected":
			i, ok := last[e.Source]
			if !ok {
				continue
			}
			attempts[i].decided = e.T
			if ep := epoch[e.Source]; ep > attempts[i].Epoch && attempts[i].Epoch != 0 {
				attempts[i].movedTo = ep
			}
			if e.Name == "+elected-leader" {
				attempts[i].Won = true
			} else {
				attempts[i].Aborted = true
			}
			delete(last, e.Source)
		case "+vote-for-leader":
			id, ep, ok := parseVote(e.Detail)
			if !ok {
				continue
			}
			who := runids[id]
			if who == "" {
				who = id[:min(len(id), 8)]
			}
			votes = append(votes, castVote{Vote{Voter: e.Source, For: who}, ep, e.T})
		}
	}
	// The votes of an epoch in which this group's failover was tried are
	// this failover's when they went to a Sentinel that tried it then, or
	// to one of no known attempt in that epoch.
	tried := map[uint64]map[string]bool{}
	for _, a := range attempts {
		if tried[a.Epoch] == nil {
			tried[a.Epoch] = map[string]bool{}
		}
		tried[a.Epoch][a.Sentinel] = true
	}
	for i := range attempts {
		a := &attempts[i]
		for _, v := range votes {
			if v.epoch == a.Epoch && a.Epoch != 0 && tried[v.epoch][v.For] {
				a.Votes = append(a.Votes, v.Vote)
			}
		}
	}
	sort.SliceStable(attempts, func(i, j int) bool { return attempts[i].At < attempts[j].At })
	// Failovers one after another: each ends with the first attempt won;
	// the attempts begun before then were its rivals.
	var out []ElectionDelay
	for len(attempts) > 0 {
		w := -1
		for i, a := range attempts {
			if a.Won {
				w = i
				break
			}
		}
		if w < 0 {
			aborted := false
			for _, a := range attempts {
				aborted = aborted || a.Aborted
			}
			if aborted {
				out = append(out, ElectionDelay{Group: group, Attempts: attempts, Lost: tl.End - attempts[0].At})
			}
			break
		}
		// The failover was delayed when an attempt had failed before the
		// winner began: a rival tried at about the same time delayed
		// nothing. (The election timeout, at most the failover timeout,
		// ends a failed attempt before any retry, 2 × failover-timeout
		// later.)
		delayed := false
		for _, a := range attempts[:w] {
			delayed = delayed || a.Aborted && a.decided <= attempts[w].At
		}
		if delayed {
			seg := append([]Election(nil), attempts[:w]...)
			seg = append(seg, attempts[w])
			out = append(out, ElectionDelay{Group: group, Attempts: seg, Won: true, Lost: attempts[w].At - attempts[0].At})
		} else if a := attempts[w]; a.movedTo != 0 {
			out = append(out, staleEpochDelay(group, a, votes))
		}
		rest := attempts[w+1:]
		for len(rest) > 0 && !rest[0].Won && rest[0].At <= attempts[w].decided {
			rest = rest[1:] // a rival begun after the winner, before its election
		}
		attempts = rest
	}
	return out
}

// castVote is a +vote-for-leader: who voted for whom, in which epoch,
// when.
type castVote struct {
	Vote
	epoch uint64
	at    time.Duration
}

// staleEpochDelay describes a won attempt whose first votes did not count
// (Election.movedTo): from the first vote another Sentinel cast for the
// candidate in the attempt's epoch to the first vote re-cast for it in the
// newer epoch. A voter votes once per master and epoch, so a vote in the
// newer epoch is a re-cast one when the same voter had already voted in
// that epoch (for the master whose failover took it); without such votes
// in the timeline, the election's time stands for them.
func staleEpochDelay(group string, a Election, votes []castVote) ElectionDelay {
	first, recast := a.At, a.decided
	firstSeen := false
	voted := map[string]int{} // per voter, its votes in the newer epoch
	for _, v := range votes {
		if v.at < a.At || v.at > a.decided || v.Voter == a.Sentinel {
			if v.epoch == a.movedTo && v.at < a.At {
				voted[v.Voter]++
			}
			continue
		}
		if v.epoch == a.Epoch && v.For == a.Sentinel && !firstSeen {
			first, firstSeen = v.at, true
		}
		if v.epoch == a.movedTo {
			voted[v.Voter]++
			if voted[v.Voter] > 1 && v.For == a.Sentinel && firstSeen && v.at > first {
				recast = v.at
				break
			}
		}
	}
	return ElectionDelay{Group: group, Attempts: []Election{a}, Won: true, Lost: recast - first, StaleEpoch: a.movedTo, RecastAt: recast}
}
