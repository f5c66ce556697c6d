package config

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/redisha-sim/redisha-sim/proxy/internal/lineio"
)

// ParseOptions tunes Parse.
type ParseOptions struct {
	// LookupEnv expands "$VAR" inside double quotes; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// ParseFile reads and checks the configuration in path, as a proxy about to
// run it: besides what Parse checks, a file with no listener is an error
// (HAProxy: "Configuration file has no error but will not start (no
// listener)", exit 2), and so is a server host name that does not resolve
// within ResolveTimeout (HAProxy resolves them at start-up and refuses to
// start). It returns the warnings (things read but not acted on) and, when
// the file cannot be used, an Errors value listing every error with its
// file and line.
func ParseFile(path string) (*Config, []Diagnostic, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open configuration: %w", err)
	}
	defer f.Close()
	cfg, warns, err := Parse(path, f, ParseOptions{})
	if err != nil {
		return nil, warns, err
	}
	if err := CheckStartable(cfg, path); err != nil {
		return nil, warns, err
	}
	return cfg, warns, nil
}

// CheckStartable checks what HAProxy checks of a whole configuration file
// before it starts, beyond its syntax: that it has a listener, and that
// every server's host name resolves (all of them within ResolveTimeout).
// ParseFile calls it; a caller that parses a file it read itself (with
// Parse) calls it too. The errors are Errors, positioned in file.
func CheckStartable(cfg *Config, file string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	if errs := append(checkListeners(cfg, file), resolveServers(ctx, cfg, net.DefaultResolver)...); len(errs) > 0 {
		return errs
	}
	return nil
}

// MaxLineSize bounds a configuration line, its newline included.
const MaxLineSize = 1 << 20

// Parse reads a configuration from r; name is the file name used in
// diagnostics. A line longer than MaxLineSize stops the reading with an
// error at that line.
func Parse(name string, r io.Reader, opts ParseOptions) (*Config, []Diagnostic, error) {
	p := &parser{
		file:     name,
		env:      opts.LookupEnv,
		cfg:      &Config{},
		defaults: map[string]*section{},
	}
	p.lastDefaults = newDefaults("", Pos{})
	rd := bufio.NewReaderSize(r, 64*1024)
	line := 0
	for {
		text, err := readLine(rd, MaxLineSize)
		if text == "" && errors.Is(err, io.EOF) {
			break
		}
		line++
		p.pos = Pos{File: name, Line: line}
		if errors.Is(err, lineio.ErrTooLong) {
			// The rest of the line cannot be told from the next lines
			// without reading it all: stop here.
			p.errorf("", "line too long: more than %d bytes; the rest of the file is not read", MaxLineSize)
			return nil, p.warns, p.errs
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		p.parseLine(text)
		if err != nil {
			break
		}
	}
	p.finishSection()
	if len(p.errs) == 0 {
		for _, d := range p.cfg.normalize() {
			p.add(d)
		}
	}
	if len(p.errs) > 0 {
		return nil, p.warns, p.errs
	}
	return p.cfg, p.warns, nil
}

// readLine returns the next line without its "\n" or "\r\n", reading at
// most limit bytes of it; the last line of a stream may lack its newline
// (it comes with io.EOF).
func readLine(rd *bufio.Reader, limit int) (string, error) {
	line, err := lineio.Read(rd, limit)
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err
}

// Normalize applies defaults to a configuration built by a Go caller and
// checks it; it returns an Errors value when the configuration is unusable.
// Parse has already done this for the configurations it returns.
func (c *Config) Normalize() error {
	var errs Errors
	for _, d := range c.normalize() {
		if !d.Warning {
			errs = append(errs, d)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

type sectionKind int

const (
	secNone sectionKind = iota
	secGlobal
	secDefaults
	secFrontend
	secBackend
	secListen
	secIgnored
)

var sectionNames = map[string]sectionKind{
	"global": secGlobal, "defaults": secDefaults, "frontend": secFrontend,
	"backend": secBackend, "listen": secListen,
}

// Sections HAProxy knows that this proxy does not implement: their lines are
// skipped with one warning.
var ignoredSections = []string{"userlist", "peers", "resolvers", "mailers", "program", "http-errors", "ring", "cache", "fcgi-app"}

// section is the section being read. For defaults, fe, be and srv are the
// templates later sections copy.
type section struct {
	kind sectionKind
	name string
	pos  Pos
	fe   *Frontend
	be   *Backend
	// srv is the default-server template.
	srv *Server
	// rulesInherited is true until the section's first tcp-check line, which
	// replaces the rules inherited from defaults.
	rulesInherited bool
	// acls are the names of the ACLs declared so far in the section.
	acls map[string]bool
}

func newDefaults(name string, pos Pos) *section {
	return &section{kind: secDefaults, name: name, pos: pos, fe: &Frontend{}, be: &Backend{}, srv: &Server{}}
}

func (s *section) label() string {
	switch s.kind {
	case secGlobal:
		return "global section"
	case secDefaults:
		if s.name == "" {
			return "defaults section"
		}
		return fmt.Sprintf("defaults '%s'", s.name)
	case secFrontend:
		return fmt.Sprintf("frontend '%s'", s.name)
	case secBackend:
		return fmt.Sprintf("backend '%s'", s.name)
	case secListen:
		return fmt.Sprintf("listen '%s'", s.name)
	}
	return ""
}

type parser struct {
	file         string
	env          func(string) (string, bool)
	pos          Pos
	cfg          *Config
	defaults     map[string]*section
	lastDefaults *section
	cur          *section
	errs         Errors
	warns        []Diagnostic
}

func (p *parser) add(d Diagnostic) {
	if d.Warning {
		p.warns = append(p.warns, d)
	} else {
		p.errs = append(p.errs, d)
	}
}

func (p *parser) diag(warning bool, kw, format string, args ...any) {
	d := Diagnostic{Pos: p.pos, Keyword: kw, Msg: fmt.Sprintf(format, args...), Warning: warning}
	if p.cur != nil {
		d.Section = p.cur.label()
	}
	p.add(d)
}

func (p *parser) errorf(kw, format string, args ...any) { p.diag(false, kw, format, args...) }
func (p *parser) warnf(kw, format string, args ...any)  { p.diag(true, kw, format, args...) }

func (p *parser) parseLine(text string) {
	words, err := splitLine(text, p.env)
	if err != nil {
		p.errorf("", "%v", err)
		return
	}
	if len(words) == 0 {
		return
	}
	if kind, ok := sectionNames[words[0]]; ok {
		p.finishSection()
		p.startSection(kind, words)
		return
	}
	if slices.Contains(ignoredSections, words[0]) {
		p.finishSection()
		p.cur = &section{kind: secIgnored, name: words[0], pos: p.pos}
		p.warnf(words[0], "section type not supported by this proxy: its lines are ignored")
		return
	}
	switch {
	case p.cur == nil:
		p.errorf(words[0], "unknown keyword outside any section; a configuration starts with a section: global, defaults, frontend, backend or listen")
	case p.cur.kind == secIgnored:
	case p.cur.kind == secGlobal:
		p.globalKeyword(words)
	default:
		p.proxyKeyword(words)
	}
}

func (p *parser) startSection(kind sectionKind, words []string) {
	p.cur = nil
	kw := words[0]
	if kind == secGlobal {
		if len(words) > 1 {
			p.warnf(kw, "extra arguments %q ignored", strings.Join(words[1:], " "))
		}
		p.cur = &section{kind: secGlobal, pos: p.pos}
		return
	}
	name := ""
	rest := words[1:]
	if len(rest) > 0 && rest[0] != "from" {
		name, rest = rest[0], rest[1:]
	}
	if kind != secDefaults && name == "" {
		p.errorf(kw, "missing name: write '%s <name>'", kw)
		p.cur = &section{kind: secIgnored, pos: p.pos}
		return
	}
	if name != "" && !validName(name) {
		p.errorf(kw, "invalid name '%s': use letters, digits, '-', '_', '.' and ':'", name)
	}
	from := p.lastDefaults
	if len(rest) >= 2 && rest[0] == "from" {
		d, ok := p.defaults[rest[1]]
		if !ok {
			p.errorf(kw, "'from %s': no defaults section named '%s' appears before this line", rest[1], rest[1])
		} else {
			from = d
		}
		rest = rest[2:]
	} else if len(rest) == 1 && rest[0] == "from" {
		p.errorf(kw, "'from' needs the name of a defaults section")
		rest = nil
	}
	if len(rest) > 0 {
		p.warnf(kw, "extra arguments %q ignored", strings.Join(rest, " "))
	}
	s := &section{kind: kind, name: name, pos: p.pos, rulesInherited: true}
	srv := *from.srv
	s.srv = &srv
	switch kind {
	case secDefaults:
		s.fe, s.be = copyFrontend(from.fe), copyBackend(from.be)
		if name != "" {
			p.defaults[name] = s
		}
		p.lastDefaults = s
	case secFrontend:
		s.fe = copyFrontend(from.fe)
	case secBackend:
		s.be = copyBackend(from.be)
	case secListen:
		s.fe, s.be = copyFrontend(from.fe), copyBackend(from.be)
		s.fe.Listen, s.be.Listen = true, true
	}
	if s.fe != nil {
		s.fe.Name, s.fe.Pos = name, p.pos
	}
	if s.be != nil {
		s.be.Name, s.be.Pos = name, p.pos
	}
	p.cur = s
}

func copyFrontend(t *Frontend) *Frontend {
	f := *t
	f.Binds = nil
	f.kwPos = nil
	if t.Stats != nil {
		st := *t.Stats
		st.Auth = slices.Clone(t.Stats.Auth)
		f.Stats = &st
	}
	return &f
}

func copyBackend(t *Backend) *Backend {
	b := *t
	b.Servers = nil
	b.kwPos = nil
	b.CheckRules = slices.Clone(t.CheckRules)
	if t.Sentinel != nil {
		// Inherited from defaults like the other backend keywords, as a copy
		// so that normalizing one backend does not change another.
		sn := *t.Sentinel
		sn.Addrs = slices.Clone(t.Sentinel.Addrs)
		b.Sentinel = &sn
	}
	return &b
}

// finishSection records the section just read in the configuration.
func (p *parser) finishSection() {
	s := p.cur
	if s == nil {
		return
	}
	switch s.kind {
	case secFrontend:
		p.cfg.Frontends = append(p.cfg.Frontends, s.fe)
	case secBackend:
		p.cfg.Backends = append(p.cfg.Backends, s.be)
	case secListen:
		s.fe.DefaultBackend = s.name
		p.cfg.Frontends = append(p.cfg.Frontends, s.fe)
		p.cfg.Backends = append(p.cfg.Backends, s.be)
	}
	p.cur = nil
}

func validName(n string) bool {
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// oneOf formats a list of valid values for a message.
func oneOf(vals ...string) string { return strings.Join(vals, ", ") }

// errUsage is returned by keyword handlers to report a malformed line; the
// message is complete.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// report turns a handler's error into a diagnostic for keyword kw.
func (p *parser) report(kw string, err error) {
	if err == nil {
		return
	}
	var w warning
	if errors.As(err, &w) {
		p.warnf(kw, "%s", w.msg)
		return
	}
	p.errorf(kw, "%v", err)
}

// warning is returned by keyword handlers for a line that is accepted but
// not (fully) acted on.
type warning struct{ msg string }

func (w warning) Error() string { return w.msg }

func warn(format string, args ...any) error { return warning{fmt.Sprintf(format, args...)} }
