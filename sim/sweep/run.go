package sweep

import (
	"context"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// Run is one run of a point.
type Run struct {
	Point   int                `json:"point"`
	Repeat  int                `json:"repeat"`
	Err     string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Unknown names metrics the run could not measure, with why.
	Unknown   map[string]string `json:"unknown,omitempty"`
	Recovered bool              `json:"recovered"`
	// Tilted is set when a Sentinel entered TILT: its timer stalled for
	// over 2 s, which on the memory backend means the machine was
	// overloaded; the run's figures are then suspect.
	Tilted  bool    `json:"tilted,omitempty"`
	Seconds float64 `json:"seconds"`
}

// runOnce runs one repeat of a point and reads its figures.
func runOnce(ctx context.Context, run RunFunc, s *scenario.Scenario, jitter time.Duration, point, repeat int) Run {
	r := Run{Point: point, Repeat: repeat}
	start := time.Now()
	res, err := run(ctx, s, jitter)
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Metrics, r.Unknown = map[string]float64{}, map[string]string{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+tilt" {
			r.Tilted = true
		}
	}
	it := res.Report.WriteInterruption
	r.Recovered = !it.Interrupted || it.Recovered
	for _, m := range Metrics {
		v, why := res.Report.Metric(m)
		switch {
		case why != "":
			r.Unknown[m] = why
		case m == "write_interruption" && !r.Recovered:
			r.Unknown[m] = "writes never recovered"
		case m == "proxy_share" && !hasSwitch(res):
			r.Unknown[m] = "no +switch-master"
		default:
			r.Metrics[m] = v
		}
	}
	return r
}

func hasSwitch(res *sim.Result) bool {
	for _, p := range res.Report.Phases {
		if p.Name == "+switch-master" && p.Found {
			return true
		}
	}
	return false
}

// ModelSummary is a prediction in seconds, as the JSON files carry it.
type ModelSummary struct {
	Trials      int                 `json:"trials"`
	Unrecovered int                 `json:"unrecovered"`
	Metrics     map[string]DistJSON `json:"metrics"`
}

// DistJSON is a model distribution in seconds.
type DistJSON struct {
	N   int     `json:"n"`
	P5  float64 `json:"p5"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

func distJSON(d model.Dist) DistJSON {
	return DistJSON{N: d.N, P5: d.P5.Seconds(), P50: d.P50.Seconds(), P95: d.P95.Seconds(), Max: d.Max.Seconds()}
}

// SummariseModel is pred in seconds, by metric name.
func SummariseModel(pred *model.Prediction) ModelSummary {
	return ModelSummary{Trials: pred.Trials, Unrecovered: pred.Unrecovered, Metrics: map[string]DistJSON{
		"write_interruption": distJSON(pred.Interruption), "proxy_share": distJSON(pred.ProxyShare),
		"detection": distJSON(pred.Detection), "two_master_window": distJSON(pred.TwoMaster),
		"sdown": distJSON(pred.SDown), "odown": distJSON(pred.ODown), "promotion": distJSON(pred.Promotion),
		"switch_master": distJSON(pred.Switch), "proxy_up": distJSON(pred.ProxyUp),
	}}
}
