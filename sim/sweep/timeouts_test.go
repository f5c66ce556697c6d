package sweep_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

const masterBlackhole = "../../scenarios/master-blackhole.yaml"

func loadBlackhole(sets []string) (*scenario.Scenario, error) {
	return scenario.Load(masterBlackhole, sets)
}

// blackholeOptions tune master-blackhole over inter 1s (fastinter 1s or
// 500ms), rise 2, fall 3, with few trials.
func blackholeOptions(repeat int, run sweep.RunFunc) sweep.TuneOptions {
	return sweep.TuneOptions{Budget: 12 * time.Second, Repeat: repeat, Parallel: 2, Trials: 60, FinalTrials: 100, Load: loadBlackhole, Run: run,
		Inters: []time.Duration{time.Second}, Rises: []int{2}, Falls: []int{3}}
}

// A blackholed master accepts the checks' connections and answers
// nothing: each check waits its timeout check, so tune searches it, and
// the model's detection rises with it.
func TestScreenSearchesTheCheckTimeoutWhereTheMasterHangs(t *testing.T) {
	tu, err := sweep.Screen(blackholeOptions(0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !tu.Faulted.TimeoutsMatter || !tu.TimeoutsSearched {
		t.Fatalf("faulted check %+v, searched %v: want the timeouts searched", tu.Faulted, tu.TimeoutsSearched)
	}
	if want := 2 * len(sweep.TuneTimeouts); len(tu.Candidates) != want {
		t.Fatalf("got %d candidates, want %d (2 fastinters x the timeouts)", len(tu.Candidates), want)
	}
	detection := map[time.Duration]time.Duration{}
	for _, c := range tu.Candidates {
		if c.TimeoutConnect != 0 {
			t.Errorf("%s: sets timeout connect, want only timeout check (the connect is accepted)", c)
		}
		if c.Scenario.Proxy.TimeoutCheck.D != c.TimeoutCheck {
			t.Errorf("%s: scenario's timeout check %v", c, c.Scenario.Proxy.TimeoutCheck.D)
		}
		if has := slices.Contains(c.Sets, "proxy.timeout_check="+c.TimeoutCheck.String()); has != (c.TimeoutCheck > 0) {
			t.Errorf("%s: sets %q", c, c.Sets)
		}
		if c.Fast == time.Second {
			detection[c.TimeoutCheck] = c.Prediction.Detection.P50
		}
	}
	for i, to := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second} {
		if i > 0 && detection[to] <= detection[to/2] {
			t.Errorf("detection p50 with timeout check %v: %v, not above %v's %v", to, detection[to], to/2, detection[to/2])
		}
	}
}

// Where a dead node refuses connections (the memory backend) the check
// timeouts play no part: tune leaves them alone and says so.
func TestScreenLeavesTheTimeoutsAloneWhereTheDeadMasterRefuses(t *testing.T) {
	tu, err := sweep.Screen(tuneOptions(5*time.Second, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if tu.Faulted.TimeoutsMatter || tu.TimeoutsSearched {
		t.Fatalf("faulted check %+v, searched %v: want the timeouts left alone", tu.Faulted, tu.TimeoutsSearched)
	}
	for _, c := range tu.Candidates {
		if c.TimeoutCheck != 0 || c.TimeoutConnect != 0 {
			t.Errorf("%s: sets a timeout", c)
		}
	}
	rec := tu.Recommendation(tu.Feasible[0])
	for _, want := range []string{"play no part", "left the check timeouts alone", "cannot estimate"} {
		if !strings.Contains(rec, want) {
			t.Errorf("recommendation lacks %q:\n%s", want, rec)
		}
	}
}

// A killed container's address hangs at the connect: a searched timeout
// sets timeout connect too, which reaches the checks, and the model's
// detection falls with it.
func TestScreenSetsTimeoutConnectWhereTheDeadAddressHangs(t *testing.T) {
	opt := tuneOptions(10*time.Second, 0, nil)
	opt.Sets = append(opt.Sets, "backend=docker")
	opt.Inters, opt.Falls, opt.Timeouts = []time.Duration{time.Second}, []int{3}, []time.Duration{0, 250 * time.Millisecond}
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	byTimeout := map[time.Duration]*sweep.Candidate{}
	for _, c := range tu.Candidates {
		if c.Fast == time.Second {
			byTimeout[c.TimeoutCheck] = c
		}
	}
	short, none := byTimeout[250*time.Millisecond], byTimeout[0]
	if short == nil || none == nil {
		t.Fatalf("candidates %v: want inter 1s with and without a timeout", tu.Candidates)
	}
	checks, err := undertest.CheckSettings(short.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	if short.TimeoutConnect != 250*time.Millisecond || checks.TimeoutConnect != 250*time.Millisecond || checks.TimeoutCheck != 250*time.Millisecond {
		t.Errorf("%s: proxy checks with timeout check %v connect %v, want both 250ms", short, checks.TimeoutCheck, checks.TimeoutConnect)
	}
	if d := none.Prediction.Detection.P50 - short.Prediction.Detection.P50; d < time.Second {
		t.Errorf("detection p50 %v without a timeout, %v with 250ms: want it over a second sooner", none.Prediction.Detection.P50, short.Prediction.Detection.P50)
	}
	rec := tu.Recommendation(short)
	if !strings.Contains(rec, "      timeout check 250ms\n      timeout connect 250ms\n      default-server inter 1s") {
		t.Errorf("recommendation lacks the timeouts as HAProxy lines:\n%s", rec)
	}
}

// With replies as late as the caller says, a timeout that a slow check
// can exceed is not feasible, its risk given as the model's probability;
// the recommendation states its margin.
func TestTuneStatesTheFalseDownRiskOfAShortTimeoutUnderDelays(t *testing.T) {
	opt := blackholeOptions(0, nil)
	opt.ReplyDelay, opt.ReplyJitter = 50*time.Millisecond, 100*time.Millisecond
	opt.Timeouts = []time.Duration{500 * time.Millisecond, time.Second}
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tu.Candidates {
		risky := c.TimeoutCheck == 500*time.Millisecond
		// 4 replies: 200 ms plus four uniform extras of up to 100 ms
		// reach 500 ms with probability 1/24.
		if risky != strings.Contains(c.Risk, "0.0417 of its checks fail, 3 in a row (a false DOWN) 7.23e-05") {
			t.Errorf("%s: risk %q", c, c.Risk)
		}
		if risky == slices.Contains(tu.Feasible, c) {
			t.Errorf("%s: feasible %v", c, !risky)
		}
	}
	if len(tu.Feasible) == 0 {
		t.Fatal("no feasible candidate")
	}
	rec := tu.Recommendation(tu.Feasible[0])
	if !strings.Contains(rec, "False DOWN risk of the 1s check timeout (timeout check) with replies as late as given") ||
		!strings.Contains(rec, "takes up to 600ms, 400ms within the timeout") {
		t.Errorf("recommendation:\n%s", rec)
	}
}

// Tune's evidence for a check timeout: measured runs (fake here) of the
// cheapest feasible setting, their detection time in the runs.
func TestTuneMeasuresTheTimeoutItRecommends(t *testing.T) {
	run := func(_ context.Context, s *scenario.Scenario, _ time.Duration) (*sim.Result, error) {
		res := result(7*time.Second, 0)
		res.Timeline.InitialMaster = "redis1"
		res.Report.Fault.T = 10 * time.Second
		res.Timeline.Events = []timeline.Event{{T: 10*time.Second + s.Proxy.TimeoutCheck.D*3 + 2*time.Second, Kind: timeline.KindProxy,
			Port: timeline.PortMaster, Name: "server-down", Node: "redis1"}}
		return res, nil
	}
	opt := blackholeOptions(2, run)
	opt.Parallel = 1
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tu.Choose(t.Context())
	if err != nil || c == nil {
		t.Fatalf("got %v, %v; want a recommendation", c, err)
	}
	if len(c.Runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(c.Runs))
	}
	for _, r := range c.Runs {
		want := (3*c.Params.ReadTimeout + 2*time.Second).Seconds()
		if c.TimeoutCheck == 0 {
			want = 2 // the fake's timeout check is unset
		}
		if got := r.Metrics[sweep.DetectionMetric]; math.Abs(got-want) > 1e-9 {
			t.Errorf("run detection %v, want %v", got, want)
		}
	}
	want := fmt.Sprintf("; dead master marked DOWN median %.2fs, max %.2fs (2 runs)", c.Runs[0].Metrics[sweep.DetectionMetric], c.Runs[0].Metrics[sweep.DetectionMetric])
	if rec := tu.Recommendation(c); !strings.Contains(rec, "Measured (2 runs on memory)") || !strings.Contains(rec, want) || !strings.Contains(rec, "Check timeout: a blackholed node") {
		t.Errorf("recommendation:\n%s", rec)
	}
}

func TestCheckFailProbabilityIsTheIrwinHallTail(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		replies                int
		delay, jitter, timeout time.Duration
		want                   float64
	}{
		{1, 0, 100 * ms, 25 * ms, 0.75},
		{2, 0, 100 * ms, 150 * ms, 0.125},
		{4, 50 * ms, 100 * ms, 500 * ms, 1.0 / 24},
		{4, 50 * ms, 100 * ms, 600 * ms, 0},
		{4, 150 * ms, 0, 500 * ms, 1},
		{4, 100 * ms, 0, 500 * ms, 0},
	} {
		if got := sweep.CheckFailProbability(c.replies, c.delay, c.jitter, c.timeout); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%d replies, delay %v jitter %v, timeout %v: got %v, want %v", c.replies, c.delay, c.jitter, c.timeout, got, c.want)
		}
	}
}
