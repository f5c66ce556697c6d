package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/htmlreport"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// writeRunHTML writes a run's HTML report, with the model's comparison
// when there is one.
func writeRunHTML(path string, tl *timeline.Timeline, r *verdict.Report, cs []model.Comparison) error {
	var ms []htmlreport.Metric
	for _, c := range cs {
		ms = append(ms, htmlreport.Metric{Name: c.Name, Measured: c.Measured, Known: c.Known,
			P5: c.Dist.P5, P50: c.Dist.P50, P95: c.Dist.P95, Max: c.Dist.Max, Outside: c.Outside})
	}
	return writePage(path, func(w io.Writer) error {
		return htmlreport.WriteRun(w, htmlreport.RunData{Timeline: tl, Report: r, Predicted: ms})
	})
}

// writePage renders a page and writes it to path.
func writePage(path string, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	return writeOutput(path, b.Bytes())
}

// sweepChart shapes a sweep for the chart: x is the first swept axis whose
// values are durations, one series per combination of the other axes.
// With several replication groups it shows the worst group's write
// interruption, and the model's band of the worst group.
func sweepChart(res *sweep.Result) htmlreport.SweepData {
	d := htmlreport.SweepData{Title: fmt.Sprintf("Sweep of %s on the %s backend", res.Scenario, res.Backend), YName: "write interruption (s)"}
	switch {
	case sweepHasGroups(res) && sweepHasWorkloads(res):
		d.YName = "write interruption, worst group and workload (s)"
	case sweepHasGroups(res):
		d.YName = "write interruption, worst group (s)"
	case sweepHasWorkloads(res):
		d.YName = "write interruption, worst workload (s)"
	}
	xi := -1
	for i, a := range res.Swept {
		if _, ok := durationValue(a.Values[0]); ok {
			xi = i
			break
		}
	}
	if xi < 0 {
		return d
	}
	d.XName = res.Swept[xi].Key
	series := map[string]*htmlreport.SweepSeries{}
	var order []string
	for pi, p := range res.Points {
		var rest []string
		for i, s := range p.Sets {
			if i != xi {
				rest = append(rest, s)
			}
		}
		label := strings.Join(rest, " ")
		if label == "" {
			label = res.Scenario
		}
		s, ok := series[label]
		if !ok {
			s = &htmlreport.SweepSeries{Label: label}
			series[label] = s
			order = append(order, label)
		}
		x, _ := durationValue(p.Values[xi])
		sp := htmlreport.SweepPoint{X: x.Seconds(), XLabel: p.Values[xi]}
		for _, r := range res.Runs {
			if v, ok := r.Metrics["write_interruption"]; ok && r.Point == pi {
				sp.Measured = append(sp.Measured, v)
			}
		}
		if p.Prediction != nil {
			if in, _ := sweep.WorstInterruption(p.Prediction); in.N > 0 {
				sp.ModelP5, sp.ModelP50, sp.ModelP95 = in.P5.Seconds(), in.P50.Seconds(), in.P95.Seconds()
			}
		}
		s.Points = append(s.Points, sp)
	}
	for _, l := range order {
		d.Series = append(d.Series, *series[l])
	}
	return d
}

func writeSweepHTML(path string, res *sweep.Result, header []string, rows [][]string, notes []string) error {
	d := sweepChart(res)
	d.Header, d.Rows = header, rows
	d.Notes = append([]string{fmt.Sprintf("%d runs (%d per point) in %s; the runs' lengths add up to %s. Generated %s.",
		len(res.Runs), res.Repeat, fmtSecs(res.Seconds), fmtSecs(res.RunSeconds), time.Now().UTC().Format(time.RFC3339))}, notes...)
	return writePage(path, func(w io.Writer) error { return htmlreport.WriteSweep(w, d) })
}

// writeTuneHTML charts the model's band against inter for the family of
// the recommendation (same rise, fall and fastinter ratio), with the
// measured runs of the recommendation, the candidates' table and the
// recommendation.
func writeTuneHTML(path string, s *scenario.Scenario, budget time.Duration, cands []*sweep.Candidate, chosen *sweep.Candidate, notes []string) error {
	ref := chosen
	if ref == nil && len(cands) > 0 {
		ref = cands[0]
	}
	d := htmlreport.SweepData{Title: fmt.Sprintf("Tuning the checks of %s on the %s backend", s.Name, s.Backend),
		XName: "proxy.inter", YName: "write interruption (s)", LogX: true, Notes: notes}
	if len(s.ResolvedGroups()) > 1 {
		d.YName = "write interruption, worst group (s)"
	}
	if ref != nil {
		series := htmlreport.SweepSeries{Label: fmt.Sprintf("rise %d fall %d fastinter %s", ref.Rise, ref.Fall,
			map[bool]string{true: "= inter", false: "= inter/2"}[ref.Fast == ref.Inter])}
		var fam []*sweep.Candidate
		for _, c := range cands {
			if c.Rise == ref.Rise && c.Fall == ref.Fall && (c.Fast == c.Inter) == (ref.Fast == ref.Inter) {
				fam = append(fam, c)
			}
		}
		sort.Slice(fam, func(i, j int) bool { return fam[i].Inter < fam[j].Inter })
		for _, c := range fam {
			in, _ := c.Interruption()
			sp := htmlreport.SweepPoint{X: c.Inter.Seconds(), XLabel: sweep.HAProxyDuration(c.Inter), ModelP5: in.P5.Seconds(), ModelP50: in.P50.Seconds(), ModelP95: in.P95.Seconds()}
			for _, r := range c.Runs {
				if v, ok := r.Metrics["write_interruption"]; ok {
					sp.Measured = append(sp.Measured, v)
				}
			}
			series.Points = append(series.Points, sp)
		}
		d.Series = []htmlreport.SweepSeries{series}
	}
	d.Header, d.Rows = candidateRows(cands, len(cands), budget)
	return writePage(path, func(w io.Writer) error { return htmlreport.WriteSweep(w, d) })
}
