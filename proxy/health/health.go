// Package health is HAProxy's server health state machine, as pure values:
// the health counter that checks move up and down, which interval schedules
// the next check, and when the first checks run. It does no I/O, so the
// proxy's checker and the timing model share it.
//
// The counter (src/check.c, set_server_check_status) runs from 0 to
// rise+fall-1. A server is UP while health >= rise. A failed check decrements
// it, and dropping below rise resets it to 0: the server is DOWN. A passed
// check increments it, and reaching rise snaps it to rise+fall-1: fully UP. So
// one passed check while "going down" restores a server fully.
package health

import (
	"fmt"
	"time"
)

// Params are a server's check settings.
type Params struct {
	// Inter is the interval while fully UP.
	Inter time.Duration
	// FastInter is the interval while changing state; zero means Inter.
	FastInter time.Duration
	// DownInter is the interval while fully DOWN; zero means Inter.
	DownInter time.Duration
	// Rise passed checks mark a DOWN server UP.
	Rise int
	// Fall failed checks mark an UP server DOWN.
	Fall int
}

// Start is where the counter begins (HAProxy 3.1's init-state).
type Start int

const (
	// StartUp is HAProxy's default: health = rise, UP, but the first failed
	// check marks the server DOWN.
	StartUp Start = iota
	// StartFullyUp: health = rise+fall-1.
	StartFullyUp
	// StartDown: health = rise-1, one passed check marks the server UP.
	StartDown
	// StartFullyDown: health = 0.
	StartFullyDown
)

// Transition is what a check result did to the server's state.
type Transition int

const (
	// NoChange: the server stays on the same side of rise.
	NoChange Transition = iota
	// WentDown: the server was UP and is now DOWN.
	WentDown
	// WentUp: the server was DOWN and is now UP.
	WentUp
)

func (t Transition) String() string {
	return [...]string{"none", "down", "up"}[t]
}

// Counter is a server's health counter.
type Counter struct {
	Health int
	Rise   int
	Fall   int
}

// NewCounter returns the counter of a server that has not been checked yet.
func NewCounter(rise, fall int, start Start) Counter {
	c := Counter{Rise: rise, Fall: fall}
	switch start {
	case StartUp:
		c.Health = rise
	case StartFullyUp:
		c.Health = rise + fall - 1
	case StartDown:
		c.Health = rise - 1
	case StartFullyDown:
		c.Health = 0
	}
	return c
}

// Up reports whether the server is UP (it may be going down).
func (c Counter) Up() bool { return c.Health >= c.Rise }

// FullyUp reports whether the counter is at its top: UP with no failure
// pending.
func (c Counter) FullyUp() bool { return c.Health == c.Rise+c.Fall-1 }

// FullyDown reports whether the counter is at 0.
func (c Counter) FullyDown() bool { return c.Health == 0 }

// Record applies one check result and reports the transition it caused.
func (c *Counter) Record(passed bool) Transition {
	wasUp := c.Up()
	if passed {
		if c.Health < c.Rise+c.Fall-1 {
			c.Health++
			if c.Health >= c.Rise {
				c.Health = c.Rise + c.Fall - 1
			}
		}
	} else if c.Health > 0 {
		c.Health--
		if c.Health < c.Rise {
			c.Health = 0
		}
	}
	switch up := c.Up(); {
	case wasUp && !up:
		return WentDown
	case !wasUp && up:
		return WentUp
	}
	return NoChange
}

// Set forces the counter fully up or fully down, as "set server ... health
// up|down" does, and reports the transition.
func (c *Counter) Set(up bool) Transition {
	wasUp := c.Up()
	if up {
		c.Health = c.Rise + c.Fall - 1
	} else {
		c.Health = 0
	}
	switch {
	case wasUp && !up:
		return WentDown
	case !wasUp && up:
		return WentUp
	}
	return NoChange
}

// Interval is the time from the end of a check to the start of the next one
// (srv_getinter): inter when fully UP, downinter when fully DOWN, fastinter in
// between, each falling back to inter.
func (c Counter) Interval(p Params) time.Duration {
	switch {
	case c.FullyUp():
		return p.Inter
	case c.FullyDown():
		if p.DownInter > 0 {
			return p.DownInter
		}
		return p.Inter
	}
	if p.FastInter > 0 {
		return p.FastInter
	}
	return p.Inter
}

// Status is the server's state as HAProxy's stats page words it: "UP",
// "UP 1/3" (one failure of fall seen), "DOWN", "DOWN 1/2" (one pass of rise
// seen).
func (c Counter) Status() string {
	switch {
	case c.FullyUp():
		return "UP"
	case c.Up():
		return fmt.Sprintf("UP %d/%d", c.Health-c.Rise+1, c.Fall)
	case c.FullyDown():
		return "DOWN"
	}
	return fmt.Sprintf("DOWN %d/%d", c.Health, c.Rise)
}

// Spread applies HAProxy's spread-checks jitter to an interval: percent in
// 0..50 and r uniform in [0, 1) give interval ± interval*percent/100.
func Spread(interval time.Duration, percent int, r float64) time.Duration {
	if percent <= 0 {
		return interval
	}
	rv := interval * time.Duration(percent) / 100
	return interval + rv - time.Duration(2*float64(rv)*r)
}

// StaggerThreshold is SRV_CHK_INTER_THRES: checks with a shorter interval
// do not dictate how the first checks are spread.
const StaggerThreshold = time.Second

// FirstCheckDelay is when, after start, the check at position pos (0-based,
// over every checked server of the process in configuration order) of n runs
// first: HAProxy spreads them evenly over the smallest interval that is at
// least StaggerThreshold (start_checks: mininter * srvpos / nbcheck).
func FirstCheckDelay(minInter time.Duration, pos, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return minInter * time.Duration(pos) / time.Duration(n)
}
