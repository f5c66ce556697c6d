package memory

import (
	"fmt"
	"net"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// Event publishes a Sentinel event on the channel of its name, with
// sentinelEvent's payload: "<type> <name> <ip> <port>[ @ <master> <ip>
// <port>]" followed by the rest, for an event about an instance.
func (d *coreDriver) Event(e sentinel.Event) {
	s := (*Sentinel)(d)
	if s.onEvent != nil {
		s.onEvent(e)
	}
	if e.Type == sentinel.EventFailoverDelayed {
		s.log.Debug("next failover delay", "not_before", e.Delay)
		return
	}
	var msg string
	switch {
	case e.Inst != nil:
		ri := e.Inst
		host, port, _ := net.SplitHostPort(ri.Addr)
		msg = fmt.Sprintf("%s %s %s %s", ri.Type(), ri.Name, host, port)
		if ri.Master != nil {
			mh, mp, _ := net.SplitHostPort(ri.Master.Addr)
			msg += fmt.Sprintf(" @ %s %s %s", ri.Master.Name, mh, mp)
		}
		if d := e.Detail(); d != "" {
			msg += " " + d
		}
	case e.Type == sentinel.EventSwitchMaster:
		oh, op, _ := net.SplitHostPort(e.From)
		nh, np, _ := net.SplitHostPort(e.To)
		msg = fmt.Sprintf("%s %s %s %s %s", e.Master.Name, oh, op, nh, np)
	default:
		msg = e.Detail()
	}
	typ := string(e.Type)
	s.log.Debug(typ+" "+msg, "event", typ)
	if m := s.m; m != nil {
		m.Publish(typ, msg)
	}
}
