package sweep

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// Candidate is one setting of the check parameters.
type Candidate struct {
	Inter, Fast, Down time.Duration
	Rise, Fall        int
	// TimeoutCheck is the backend's timeout check (zero: not set, inter
	// bounds the whole check); TimeoutConnect its timeout connect when the
	// candidate sets it (zero: the scenario's), which bounds the checks'
	// connect with timeout check set (TIMING.md §1).
	TimeoutCheck, TimeoutConnect time.Duration
	// Sets are the --set overrides that apply the setting.
	Sets       []string
	Scenario   *scenario.Scenario
	Params     model.Params
	Prediction *model.Prediction
	// Load is checks per second on each node (both backends).
	Load float64
	// Risk says why the setting may mark a healthy but slow node DOWN.
	Risk string
	// Measured evidence: Measured is the write interruption (the worst
	// group's, with several), GroupMeasured each group's by name.
	Runs          []Run
	Measured      Summary
	GroupMeasured map[string]Summary
	FalseDown     float64
}

func (c *Candidate) String() string {
	s := fmt.Sprintf("inter %v fastinter %v downinter %v rise %d fall %d", c.Inter, c.Fast, c.Down, c.Rise, c.Fall)
	if c.TimeoutCheck > 0 {
		s += fmt.Sprintf(" timeout check %v", c.TimeoutCheck)
	}
	if c.TimeoutConnect > 0 {
		s += fmt.Sprintf(" timeout connect %v", c.TimeoutConnect)
	}
	return s
}

// P95 is the model's p95 write interruption (the worst group's, trial by
// trial, with several groups), or the longest duration when some trials
// never recovered.
func (c *Candidate) P95() time.Duration {
	d, unrecovered := c.Interruption()
	if unrecovered > 0 {
		return time.Duration(1<<62 - 1)
	}
	return d.P95
}

// Interruption is the model's write interruption the candidate is judged
// on, and the trials that never recovered: with several groups the worst
// group's, trial by trial (WorstInterruption).
func (c *Candidate) Interruption() (model.Dist, int) {
	return WorstInterruption(c.Prediction)
}

// TuneInters and the other lists span the search by default: each inter
// with fastinter and downinter equal to it or half of it, each rise and
// each fall.
var (
	TuneInters = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second}
	TuneRises = []int{1, 2}
	TuneFalls = []int{2, 3}
	// TuneTimeouts are the check timeouts searched where they decide how
	// soon the dead master is marked DOWN (model.FaultedCheck); zero is
	// none set (inter bounds the check).
	TuneTimeouts = []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
)

// TuneOptions configure a tuning.
type TuneOptions struct {
	// Budget is the write interruption to stay within, at the 95th
	// percentile.
	Budget time.Duration
	// Sets are the caller's overrides (key=value) for every run; each
	// candidate's settings come after them.
	Sets []string
	// Inters, Rises and Falls span the search; nil means TuneInters,
	// TuneRises and TuneFalls.
	Inters       []time.Duration
	Rises, Falls []int
	// Timeouts are the check timeouts to search (zero: none set); nil
	// means TuneTimeouts where the timeouts decide detection
	// (model.FaultedCheck) and none set where they do not. A timeout sets
	// timeout check, and timeout connect too where the dead master's
	// address hangs at the connect.
	Timeouts []time.Duration
	// ReplyDelay and ReplyJitter are how late a healthy node's replies
	// may be (each ReplyDelay plus up to ReplyJitter), to judge the false
	// DOWN risk of short timeouts by, when longer than the scenario's
	// delay faults (which the model cannot run with a master fault).
	ReplyDelay, ReplyJitter time.Duration
	// Repeat is the number of measured runs of the recommendation; 0
	// means the model alone.
	Repeat int
	// Parallel is how many runs go at once; 0 means DefaultParallel.
	Parallel int
	// Trials is the number of model trials per candidate (at least 20);
	// FinalTrials those of the finalists (0 means 2000).
	Trials, FinalTrials int
	// Load and Run load and run the scenario; Load gets the candidate's
	// settings, Run is needed when Repeat > 0.
	Load LoadFunc
	Run  RunFunc
	// Screening, Measuring and Rejected, when set, say what is going on:
	// before the model screens n candidates, before a candidate's runs,
	// and after a measured candidate failed the budget.
	Screening func(n int)
	Measuring func(c *Candidate)
	Rejected  func(c *Candidate)
}

// Tuning is the search's state: the candidates screened by the model.
type Tuning struct {
	// Base is the scenario with the caller's settings only.
	Base *scenario.Scenario
	// Worst is the longest a reply of a node slowed by the scenario's
	// delay faults can be late; Delay and Jitter are that fault's.
	Worst, Delay, Jitter time.Duration
	// DelayGiven reports that Delay and Jitter are the caller's
	// (TuneOptions.ReplyDelay), not a fault's.
	DelayGiven bool
	// Faulted is how the checks of the faulted master fail with the
	// caller's settings: whether the check timeouts decide detection.
	Faulted model.FailingCheck
	// TimeoutsSearched reports whether the search spans check timeouts.
	TimeoutsSearched bool
	// Candidates are ranked by check load, then by the model's p95.
	Candidates []*Candidate
	// Feasible are the candidates the model puts within the budget with
	// no risk of false DOWN marks, in the same order.
	Feasible []*Candidate
	// Groups name the scenario's replication groups when it has several
	// (none with one): every figure is then the worst group's.
	Groups []string
	opt    TuneOptions
}

// Screen loads the scenario and screens every candidate check setting
// with the timing model.
func Screen(opt TuneOptions) (*Tuning, error) {
	if opt.Trials < 20 {
		return nil, badInput(fmt.Errorf("--trials %d: want at least 20", opt.Trials))
	}
	base, err := opt.Load(slices.Clone(opt.Sets))
	if err != nil {
		return nil, err
	}
	bp, err := model.FromScenario(base)
	if err != nil {
		return nil, badInput(fmt.Errorf("scenario %s: tune needs the timing model, which cannot predict it: %w", base.Name, err))
	}
	t := &Tuning{Base: base, opt: opt, Faulted: model.FaultedCheck(bp)}
	t.Worst, t.Delay, t.Jitter = worstDelay(base)
	if w := opt.ReplyDelay + opt.ReplyJitter; w > t.Worst {
		t.Worst, t.Delay, t.Jitter = w, opt.ReplyDelay, opt.ReplyJitter
		t.DelayGiven = true
	}
	timeouts := opt.Timeouts
	if timeouts == nil {
		timeouts = []time.Duration{0}
		if t.Faulted.TimeoutsMatter {
			timeouts = TuneTimeouts
		}
	}
	t.TimeoutsSearched = len(timeouts) > 1 || timeouts[0] != 0
	// The dead master's address hangs at the connect: the timeout must
	// bound the connect too.
	connectToo := t.Faulted.TimeoutsMatter && bp.DeadHangs && (bp.Fault.Action == fault.Kill || bp.Fault.Action == fault.Stop || bp.Fault.Action == fault.Restart)
	if gs := base.ResolvedGroups(); len(gs) > 1 {
		for _, g := range gs {
			t.Groups = append(t.Groups, g.Name)
		}
	}

	inters, rises, falls := orDefault(opt.Inters, TuneInters), orDefault(opt.Rises, TuneRises), orDefault(opt.Falls, TuneFalls)
	var cands []*Candidate
	for _, inter := range inters {
		for _, fast := range []time.Duration{inter, inter / 2} {
			for _, rise := range rises {
				for _, fall := range falls {
					for _, to := range timeouts {
						c := &Candidate{Inter: inter, Fast: fast, Down: fast, Rise: rise, Fall: fall}
						c.Sets = []string{"proxy.inter=" + inter.String(), "proxy.fastinter=" + fast.String(), "proxy.downinter=" + fast.String(),
							fmt.Sprintf("proxy.rise=%d", rise), fmt.Sprintf("proxy.fall=%d", fall)}
						if to > 0 {
							c.TimeoutCheck = to
							c.Sets = append(c.Sets, "proxy.timeout_check="+to.String())
							if connectToo {
								c.TimeoutConnect = to
								c.Sets = append(c.Sets, "proxy.timeout_connect="+to.String())
							}
						}
						if slices.ContainsFunc(cands, func(o *Candidate) bool { return o.String() == c.String() }) {
							continue
						}
						cands = append(cands, c)
					}
				}
			}
		}
	}
	if opt.Screening != nil {
		opt.Screening(len(cands))
	}
	for _, c := range cands {
		s, err := opt.Load(append(slices.Clone(opt.Sets), c.Sets...))
		if err != nil {
			return nil, err
		}
		c.Scenario = s
		if c.Params, err = model.FromScenario(s); err != nil {
			return nil, badInput(err)
		}
		if c.Prediction, err = model.Predict(c.Params, opt.Trials, 1); err != nil {
			return nil, badInput(err)
		}
		c.Load = model.CheckLoad(c.Params)
		if rounds := max(1, c.Params.CheckReplies); t.Worst > 0 && time.Duration(rounds)*t.Worst >= c.Params.ReadTimeout {
			c.Risk = fmt.Sprintf("a check of a slowed node (the scenario's delay faults, --reply-delay) takes up to %v (%d replies x %v), over its %v timeout",
				time.Duration(rounds)*t.Worst, rounds, t.Worst, c.Params.ReadTimeout)
			if p := CheckFailProbability(rounds, t.Delay, t.Jitter, c.Params.ReadTimeout); p > 0 {
				c.Risk += fmt.Sprintf(": %.3g of its checks fail, %d in a row (a false DOWN) %.3g of the time", p, c.Fall, math.Pow(p, float64(c.Fall)))
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].Load != cands[j].Load {
			return cands[i].Load < cands[j].Load
		}
		return cands[i].P95() < cands[j].P95()
	})
	t.Candidates = cands
	for _, c := range cands {
		if c.P95() <= opt.Budget && c.Risk == "" {
			t.Feasible = append(t.Feasible, c)
		}
	}
	return t, nil
}

func orDefault[T any](xs, def []T) []T {
	if xs == nil {
		return def
	}
	return xs
}

// Closest are the candidates by the model's p95, lowest first.
func (t *Tuning) Closest() []*Candidate {
	closest := slices.Clone(t.Candidates)
	sort.SliceStable(closest, func(i, j int) bool { return closest[i].P95() < closest[j].P95() })
	return closest
}

// Infeasible says why no candidate meets the budget, and what would:
// for when Feasible is empty.
func (t *Tuning) Infeasible() string {
	best := slices.MinFunc(t.Candidates, func(a, b *Candidate) int { return int(a.P95() - b.P95()) })
	budget := t.opt.Budget
	of := ""
	if len(t.Groups) > 0 {
		of = " for the worst group"
	}
	msg := fmt.Sprintf("No check setting meets %v: the least the model predicts%s is a p95 of %v (%s).", budget, of, best.P95().Round(10*time.Millisecond), best)
	if sd := best.Prediction.SDown; sd.N > 0 && sd.P50 > budget/2 {
		msg += fmt.Sprintf(" Sentinel alone needs %v to see the master down (down-after %v) and %v to promote a replica:"+
			" lower sentinel.down_after (e.g. --set sentinel.down_after=1s) and tune again.",
			sd.P50.Round(10*time.Millisecond), t.Base.Sentinel.DownAfter.D, best.Prediction.Promotion.P50.Round(10*time.Millisecond))
	}
	return msg
}

// Choose gathers the evidence: it runs the cheapest feasible settings, in
// order (at most three), Repeat times each, until one holds measured
// (every run recovered within the budget at the p95, no false DOWN
// marks), with the finalists' model re-run with FinalTrials. With Repeat
// 0 it takes the cheapest feasible setting on the model alone. It
// returns nil when none held, and an error when a run failed or ctx was
// cancelled.
func (t *Tuning) Choose(ctx context.Context) (*Candidate, error) {
	opt := t.opt
	if opt.FinalTrials == 0 {
		opt.FinalTrials = 2000
	}
	for i, c := range t.Feasible {
		if i == 3 {
			break
		}
		// The screening's few trials may have put the p95 just under the
		// budget: the finalist must meet it with the final trials too,
		// with or without measured runs.
		if fin, err := model.Predict(c.Params, opt.FinalTrials, 2); err == nil {
			c.Prediction = fin
		}
		if c.P95() > opt.Budget {
			continue
		}
		if opt.Repeat == 0 {
			return c, nil
		}
		if opt.Measuring != nil {
			opt.Measuring(c)
		}
		if err := t.measure(ctx, c); err != nil {
			return nil, err
		}
		if c.Measured.N == opt.Repeat && time.Duration(c.Measured.P95*float64(time.Second)) <= opt.Budget && c.FalseDown == 0 {
			return c, nil
		}
		if opt.Rejected != nil {
			opt.Rejected(c)
		}
	}
	return nil, nil
}

// measure runs a candidate Repeat times (in parallel on memory).
func (t *Tuning) measure(ctx context.Context, c *Candidate) error {
	opt := t.opt
	parallel := opt.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel(c.Scenario.Backend)
	}
	sem := make(chan struct{}, parallel)
	results := make(chan Run, opt.Repeat)
	for i := range opt.Repeat {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			results <- runOnce(ctx, opt.Run, c.Scenario, 2*time.Second, 0, i)
		}()
	}
	var its []float64
	groups := map[string][]float64{}
	for range opt.Repeat {
		r := <-results
		c.Runs = append(c.Runs, r)
		if r.Err != "" {
			return fmt.Errorf("run of %s: %s", c, r.Err)
		}
		if v, ok := r.Metrics["write_interruption"]; ok {
			its = append(its, v)
		}
		for _, g := range r.Groups {
			if v, ok := r.Metrics[g+".write_interruption"]; ok {
				groups[g] = append(groups[g], v)
			}
		}
		c.FalseDown += r.Metrics["false_down_marks"]
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	c.Measured = Summarise(its)
	if len(t.Groups) > 0 {
		c.GroupMeasured = map[string]Summary{}
		for _, g := range t.Groups {
			c.GroupMeasured[g] = Summarise(groups[g])
		}
	}
	return nil
}

// Recommendation words the chosen setting: the model's and the measured
// figures, the check load, the setting as HAProxy configuration lines,
// and warnings.
func (t *Tuning) Recommendation(c *Candidate) string {
	s := t.Base
	var b strings.Builder
	d, _ := c.Interruption()
	fmt.Fprintf(&b, "Recommended: %s\n", c)
	if len(t.Groups) > 0 {
		fmt.Fprintf(&b, "  Judged on the worst of the %d groups (%s).\n", len(t.Groups), strings.Join(t.Groups, ", "))
		fmt.Fprintf(&b, "  Model (%d trials): worst group's write interruption p5 %v, p50 %v, p95 %v, max %v; first group's proxy share p50 %v, dead master marked DOWN p50 %v\n",
			c.Prediction.Trials, r10(d.P5), r10(d.P50), r10(d.P95), r10(d.Max), r10(c.Prediction.ProxyShare.P50), r10(c.Prediction.Detection.P50))
		var per []string
		for i, g := range t.Groups {
			if gd, _, ok := GroupInterruption(c.Prediction, i); ok {
				per = append(per, fmt.Sprintf("%s p50 %v p95 %v", g, r10(gd.P50), r10(gd.P95)))
			}
		}
		if len(per) > 0 {
			fmt.Fprintf(&b, "  Model by group: %s\n", strings.Join(per, "; "))
		}
	} else {
		fmt.Fprintf(&b, "  Model (%d trials): write interruption p5 %v, p50 %v, p95 %v, max %v; proxy share p50 %v; dead master marked DOWN p50 %v\n",
			c.Prediction.Trials, r10(d.P5), r10(d.P50), r10(d.P95), r10(d.Max), r10(c.Prediction.ProxyShare.P50), r10(c.Prediction.Detection.P50))
	}
	if len(c.Runs) > 0 {
		var load []float64
		for _, r := range c.Runs {
			if v, ok := r.Metrics["check_rate"]; ok {
				load = append(load, v)
			}
		}
		what := "write interruption"
		if len(t.Groups) > 0 {
			what = "worst group's write interruption"
		}
		fmt.Fprintf(&b, "  Measured (%d runs on %s): %s median %.2fs, p95 %.2fs, max %.2fs; false DOWN marks %.0f",
			len(c.Runs), s.Backend, what, c.Measured.Median, c.Measured.P95, c.Measured.Max, c.FalseDown)
		if len(load) > 0 {
			fmt.Fprintf(&b, "; checks/s on the busiest node %.2f", Summarise(load).Median)
		}
		if det := Summarise(MetricValues(c.Runs, 0, DetectionMetric)); det.N > 0 {
			fmt.Fprintf(&b, "; dead master marked DOWN median %.2fs, max %.2fs (%d runs)", det.Median, det.Max, det.N)
		}
		fmt.Fprintln(&b)
		var per []string
		for _, g := range t.Groups {
			if m := c.GroupMeasured[g]; m.N > 0 {
				per = append(per, fmt.Sprintf("%s median %.2fs p95 %.2fs", g, m.Median, m.P95))
			} else {
				per = append(per, g+" -")
			}
		}
		if len(per) > 0 {
			fmt.Fprintf(&b, "  Measured by group: %s\n", strings.Join(per, "; "))
		}
	}
	fmt.Fprintf(&b, "  Check load: %.2f checks/s per node (model), against %.2f with the scenario's own settings\n", c.Load, baseLoad(s))
	t.timeoutText(&b, c)
	line := fmt.Sprintf("      default-server inter %s fastinter %s downinter %s rise %d fall %d\n", HAProxyDuration(c.Inter), HAProxyDuration(c.Fast), HAProxyDuration(c.Down), c.Rise, c.Fall)
	if c.TimeoutConnect > 0 {
		line = fmt.Sprintf("      timeout connect %s\n", HAProxyDuration(c.TimeoutConnect)) + line
	}
	if c.TimeoutCheck > 0 {
		line = fmt.Sprintf("      timeout check %s\n", HAProxyDuration(c.TimeoutCheck)) + line
	}
	if bes := masterBackendNames(s); len(t.Groups) > 0 && len(bes) > 1 {
		fmt.Fprintf(&b, "\n  As HAProxy configuration (every group's master backend's servers; the replica backends can take the same):\n")
		for _, be := range bes {
			fmt.Fprintf(&b, "    backend %s\n%s", be, line)
		}
	} else {
		fmt.Fprintf(&b, "\n  As HAProxy configuration (the master backend's servers; the replica backend can take the same):\n")
		fmt.Fprintf(&b, "    backend %s\n%s", MasterBackendName(s), line)
	}
	if n := c.Prediction.CascadingFailovers; n > 0 {
		fmt.Fprintf(&b, "\n  Warning: in %d of %d trials Sentinel failed over twice (down-after %v is within a ping period of the\n"+
			"  switch: the first PING to the new master can come too late), with a two-master window up to %v.\n"+
			"  A down-after of at least 1.5 s avoids it.\n", n, c.Prediction.Trials, s.Sentinel.DownAfter.D, r10(c.Prediction.TwoMaster.Max))
	}
	if c.Rise == 1 {
		fmt.Fprintf(&b, "\n  Note: rise 1 puts a node UP on one passing check, an old master back from a restart as well\n"+
			"  (scenarios/master-stop-start.yaml): pair it with Sentinel-aware routing (redis-sentinel), or tune that scenario too.\n")
	}
	return b.String()
}

func r10(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

// timeoutText says what the check timeout does for the faulted master and
// the false DOWN risk of the candidate's under the scenario's delays: a
// bound with the margin when the scenario has delay faults, and that the
// model cannot estimate it when it has none.
func (t *Tuning) timeoutText(b *strings.Builder, c *Candidate) {
	f := model.FaultedCheck(c.Params)
	searched := ""
	switch {
	case t.TimeoutsSearched:
		searched = " The search spanned check timeouts."
	case !t.Faulted.TimeoutsMatter:
		searched = " The search left the check timeouts alone."
	}
	fmt.Fprintf(b, "  Check timeout: %s.%s\n", f.Why, searched)
	bound, what := c.Params.ReadTimeout, "timeout check"
	if c.TimeoutCheck == 0 {
		what = "inter (no timeout check)"
	}
	k := max(1, c.Params.CheckReplies)
	if t.Worst == 0 {
		fmt.Fprintf(b, "  False DOWN risk of the %v check timeout (%s): the scenario has no delay faults, so the model cannot estimate it.\n"+
			"  A healthy check is %d replies, each a round trip: a node whose replies come later than %v each (a loaded host, a slow\n"+
			"  link) fails its checks, and %d failures in a row mark it DOWN. Give your replies' latency (--reply-delay, --reply-jitter),\n"+
			"  or sweep the timeout over a delay fault (as scenarios/replica-jitter.yaml), before adopting a short timeout.\n", bound, what, k, (bound / time.Duration(k)).Round(time.Millisecond), c.Fall)
		return
	}
	longest := time.Duration(k) * t.Worst
	whose := "under the scenario's delays: a reply of the slowed node"
	if t.DelayGiven {
		whose = "with replies as late as given (--reply-delay, --reply-jitter): a reply"
	}
	fmt.Fprintf(b, "  False DOWN risk of the %v check timeout (%s) %s leaves %v plus up to %v late,\n"+
		"  so a check (%d replies) takes up to %v, %v within the timeout: no check fails from it (probability %.3g).\n"+
		"  Replies later than %v each would fail checks.\n",
		bound, what, whose, t.Delay, t.Jitter, k, longest, bound-longest, CheckFailProbability(k, t.Delay, t.Jitter, bound), (bound / time.Duration(k)).Round(time.Millisecond))
}

// HAProxyDuration writes a duration as HAProxy reads it (ms or s).
func HAProxyDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

func baseLoad(s *scenario.Scenario) float64 {
	p, err := model.FromScenario(s)
	if err != nil {
		return 0
	}
	return model.CheckLoad(p)
}

// MasterBackendName is the name of the proxy's backend for the master in
// the configuration a scenario gets ("redis_master" when the configuration
// cannot be built).
func MasterBackendName(s *scenario.Scenario) string {
	if c, err := undertest.CheckSettings(s); err == nil {
		return c.Backend
	}
	return "redis_master"
}

// masterBackendNames are the master backends of the scenario's groups, in
// order, in the configuration it gets (built for placeholder addresses:
// they play no part in the names); none when it cannot be built.
func masterBackendNames(s *scenario.Scenario) []string {
	var nodes []undertest.NodeAddr
	for i, n := range s.NodeNames() {
		nodes = append(nodes, undertest.NodeAddr{Name: n, Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
	}
	l, err := undertest.BuildProxyConfig(s, nodes, []string{"127.0.0.1:26379"}, undertest.InProcess)
	if err != nil {
		return nil
	}
	var names []string
	for _, g := range l.Groups {
		names = append(names, g.MasterBackend)
	}
	return names
}

// worstDelay is the longest a reply of a node slowed by the scenario's
// delay faults can be late, and that fault's delay and jitter.
func worstDelay(s *scenario.Scenario) (worst, delay, jitter time.Duration) {
	for _, f := range s.Faults {
		if f.Action == fault.Delay && f.Delay.D+f.Jitter.D > worst {
			worst, delay, jitter = f.Delay.D+f.Jitter.D, f.Delay.D, f.Jitter.D
		}
	}
	return worst, delay, jitter
}

// CheckFailProbability is the share of the checks of a node whose every
// reply leaves delay plus a uniform extra in [0, jitter] late (the delay
// fault) that take timeout or longer: a check of replies sequential
// replies takes replies x delay plus the sum of replies uniform extras
// (the Irwin-Hall distribution), the network's round trips left out.
func CheckFailProbability(replies int, delay, jitter, timeout time.Duration) float64 {
	replies = max(1, replies)
	slack := timeout - time.Duration(replies)*delay
	switch {
	case slack <= 0:
		return 1
	case jitter <= 0 || slack >= time.Duration(replies)*jitter:
		return 0
	}
	// P(sum of n U(0,1) >= x) = 1 - F(x), F the Irwin-Hall CDF:
	// F(x) = 1/n! sum_{k=0}^{floor x} (-1)^k C(n,k) (x-k)^n.
	n, x := replies, slack.Seconds()/jitter.Seconds()
	cdf, binom, fact := 0.0, 1.0, 1.0
	for k := 0; k <= n && float64(k) <= x; k++ {
		if k > 0 {
			binom = binom * float64(n-k+1) / float64(k)
		}
		cdf += math.Pow(-1, float64(k)) * binom * math.Pow(x-float64(k), float64(n))
	}
	for i := 2; i <= n; i++ {
		fact *= float64(i)
	}
	return min(1, max(0, 1-cdf/fact))
}
