package config

import (
	"fmt"
	"strings"
)

// normalize fills defaults and checks cross-references; it returns errors
// and warnings.
func (c *Config) normalize() []Diagnostic {
	var out []Diagnostic
	errf := func(pos Pos, section, kw, format string, args ...any) {
		out = append(out, Diagnostic{Pos: pos, Section: section, Keyword: kw, Msg: fmt.Sprintf(format, args...)})
	}
	warnf := func(pos Pos, section, kw, format string, args ...any) {
		out = append(out, Diagnostic{Pos: pos, Section: section, Keyword: kw, Msg: fmt.Sprintf(format, args...), Warning: true})
	}
	if c.Global.SpreadChecks < 0 || c.Global.SpreadChecks > 50 {
		errf(Pos{}, "global section", "spread-checks", "must be from 0 to 50, got %d", c.Global.SpreadChecks)
	}

	feNames := map[string]*Frontend{}
	binds := map[string]Bind{}
	for _, f := range c.Frontends {
		label := sectionLabel(f.Listen, "frontend", f.Name)
		if prev, ok := feNames[f.Name]; ok {
			errf(f.Pos, label, "", "name already used by the section at %s", prev.Pos)
			continue
		}
		feNames[f.Name] = f
		for _, b := range f.Binds {
			if strings.HasSuffix(b.Addr, ":0") {
				continue // a port the system picks: never a clash
			}
			if prev, ok := binds[b.Addr]; ok {
				errf(b.Pos, label, "bind", "address %s is already bound at %s", b.Addr, prev.Pos)
				continue
			}
			binds[b.Addr] = b
		}
		if len(f.Binds) == 0 && !f.Listen {
			errf(f.Pos, label, "bind", "frontend has no 'bind' line: it would accept nothing; declare it as a backend if that was intended")
		}
		if f.Mode == ModeHTTP {
			if f.Stats == nil {
				errf(posOf(f.kwPos, "mode", f.Pos), label, "mode", "'mode http' is supported only for the stats page: add 'stats uri <path>' or use 'mode tcp'")
			} else {
				if f.Stats.URI == "" {
					f.Stats.URI = "/haproxy?stats"
				}
				if f.Stats.Realm == "" {
					f.Stats.Realm = "HAProxy Statistics"
				}
			}
			continue
		}
		if f.Stats != nil {
			errf(posOf(f.kwPos, "stats", f.Stats.Pos), label, "stats", "the stats page needs 'mode http' in this section")
		}
		if f.DefaultBackend == "" {
			errf(f.Pos, label, "default_backend", "frontend has no backend: add 'default_backend <name>'")
			continue
		}
		be := c.Backend(f.DefaultBackend)
		dbPos := posOf(f.kwPos, "default_backend", f.Pos)
		if be == nil {
			known := "no tcp backend is defined"
			if names := backendNames(c); len(names) > 0 {
				known = "defined: " + strings.Join(names, ", ")
			}
			errf(dbPos, label, "default_backend", "backend '%s' not found (%s)", f.DefaultBackend, known)
			continue
		}
		if be.Mode != ModeTCP {
			errf(dbPos, label, "default_backend", "backend '%s' is in mode http; TCP frontends need a mode tcp backend", be.Name)
		}
		if f.Timeouts.Client == 0 || be.Timeouts.Connect == 0 || be.Timeouts.Server == 0 {
			warnf(f.Pos, label, "timeout", "missing timeouts: while not properly invalid, such a configuration keeps dead sessions forever; set 'timeout client', 'timeout connect' and 'timeout server'")
		}
	}

	beNames := map[string]*Backend{}
	for _, b := range c.Backends {
		label := sectionLabel(b.Listen, "backend", b.Name)
		if prev, ok := beNames[b.Name]; ok {
			errf(b.Pos, label, "", "name already used by the section at %s", prev.Pos)
			continue
		}
		beNames[b.Name] = b
		if b.Mode == ModeHTTP && len(b.Servers) > 0 {
			errf(posOf(b.kwPos, "mode", b.Pos), label, "mode", "servers in 'mode http' are not supported: this proxy forwards TCP; use 'mode tcp'")
		}
		if len(b.CheckRules) > 0 && b.CheckKind != CheckTCP {
			warnf(posOf(b.kwPos, "tcp-check", b.Pos), label, "tcp-check", "tcp-check rules ignored: 'option tcp-check' is not set")
		}
		for i := range b.CheckRules {
			if err := b.CheckRules[i].Compile(); err != nil {
				errf(b.Pos, label, "tcp-check", "rule %d: %v", i+1, err)
			}
		}
		names := map[string]bool{}
		for _, s := range b.Servers {
			if names[s.Name] {
				errf(s.Pos, label, "server", "server name '%s' is already used in this backend", s.Name)
			}
			names[s.Name] = true
			s.fillDefaults()
			if s.Rise < 1 || s.Fall < 1 {
				errf(s.Pos, label, "server", "server '%s': rise and fall must be at least 1", s.Name)
			}
			if s.Weight > MaxWeight {
				errf(s.Pos, label, "server", "server '%s': weight must be from 0 to %d", s.Name, MaxWeight)
			}
		}
		if b.Sentinel != nil {
			for _, msg := range b.Sentinel.normalize() {
				errf(posOf(b.kwPos, "redis-sentinel", b.Sentinel.Pos), label, "redis-sentinel", "%s", msg)
			}
		}
	}
	return out
}

func (s *Server) fillDefaults() {
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	if s.Inter == 0 {
		s.Inter = DefaultInter
	}
	if s.FastInter == 0 {
		s.FastInter = s.Inter
	}
	if s.DownInter == 0 {
		s.DownInter = s.Inter
	}
}

func sectionLabel(listen bool, kind, name string) string {
	if listen {
		kind = "listen"
	}
	return fmt.Sprintf("%s '%s'", kind, name)
}

func backendNames(c *Config) []string {
	var n []string
	for _, b := range c.Backends {
		if b.Mode == ModeTCP {
			n = append(n, b.Name)
		}
	}
	return n
}
