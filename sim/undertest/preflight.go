package undertest

import (
	"cmp"
	"errors"
	"strings"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Preflight checks, before anything starts, what Run would otherwise find
// only once the cluster is up: that the scenario's proxy configuration
// parses and fits its topology (no more servers than nodes, a master
// backend and a frontend routing to it for every group, each group with
// its own backends: PairErrors). Its error is scenario.Errors,
// placed at proxy.config in the scenario file (or at the --set that gave
// it, or at the field that named a backend), each naming the
// configuration's own file and line.
func Preflight(s *scenario.Scenario) error {
	_, err := placeholderLayout(s)
	if err == nil {
		return nil
	}
	field := "proxy"
	switch {
	case s.Proxy.Config != "":
		field = "proxy.config"
	case s.Proxy.SentinelAware:
		field = "proxy.sentinel_aware"
	case len(s.Proxy.CheckRules) > 0:
		field = "proxy.check_rules"
	}
	var perrs PairErrors
	if errors.As(err, &perrs) {
		var errs scenario.Errors
		for _, pe := range perrs {
			errs = append(errs, s.ErrorAt(cmp.Or(pe.Field, field), pe.Error()))
		}
		return errs
	}
	var cerrs config.Errors
	if errors.As(err, &cerrs) {
		var errs scenario.Errors
		for _, d := range cerrs {
			errs = append(errs, s.ErrorAt(field, d.String()))
		}
		return errs
	}
	msg := strings.TrimPrefix(err.Error(), "proxy configuration: ")
	return scenario.Errors{s.ErrorAt(field, msg)}
}
