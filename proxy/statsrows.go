package proxy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// statFields are the fields of HAProxy 2.6's "show stat" CSV, in its order,
// up to the last field of the base set (agg_check_status). The per-module
// fields that follow in HAProxy (ssl, h2, h1) do not apply here.
var statFields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"+
	"wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"+
	"type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,"+
	"hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,"+
	"last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,"+
	"check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,"+
	"conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"+
	"qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,"+
	"agg_server_status,agg_server_check_status,agg_check_status", ",")

// Row types, HAProxy's "type" field.
const (
	rowFrontend = 0
	rowBackend  = 1
	rowServer   = 2
)

// statRow is one line of the stats: a frontend, a backend or a server.
type statRow struct {
	typ    int
	iid    int
	sid    int
	fields map[string]string
	// For the HTML page.
	proxy  string
	name   string
	server *ServerState
	be     *BackendState
}

// proxyIDs numbers the configuration's sections as HAProxy does: in file
// order from 2 (HAProxy 2.6 keeps 1 for an internal proxy), the two halves
// of a listen section sharing one id.
func proxyIDs(cfg *config.Config) map[string]int {
	type sec struct {
		name string
		line int
		n    int
	}
	var secs []sec
	seen := map[string]bool{}
	n := 0
	add := func(name string, pos config.Pos) {
		if seen[name] {
			return
		}
		seen[name] = true
		secs = append(secs, sec{name, pos.Line, n})
		n++
	}
	for _, f := range cfg.Frontends {
		add("fe:"+f.Name, f.Pos)
		if f.Listen {
			seen["be:"+f.Name] = true
		}
	}
	for _, b := range cfg.Backends {
		add("be:"+b.Name, b.Pos)
	}
	sort.SliceStable(secs, func(i, j int) bool {
		if secs[i].line != secs[j].line {
			return secs[i].line < secs[j].line
		}
		return secs[i].n < secs[j].n
	})
	ids := map[string]int{}
	for i, s := range secs {
		ids[s.name] = i + 2
		if strings.HasPrefix(s.name, "fe:") {
			// A listen's backend half shares the id.
			ids["be:"+s.name[3:]] = i + 2
		}
	}
	for _, b := range cfg.Backends {
		if id, ok := ids["be:"+b.Name]; ok && !b.Listen {
			ids["be:"+b.Name] = id
		}
	}
	return ids
}

func u(n int64) string   { return strconv.FormatInt(n, 10) }
func ui(n uint64) string { return strconv.FormatUint(n, 10) }

// statRows builds the rows of every section in id order: each proxy's
// frontend, then its servers, then its backend, as HAProxy lists them.
func (p *Proxy) statRows() []statRow {
	now := time.Now()
	type entry struct {
		id   int
		rows []statRow
	}
	byID := map[int]*entry{}
	get := func(id int) *entry {
		if byID[id] == nil {
			byID[id] = &entry{id: id}
		}
		return byID[id]
	}
	for _, fc := range p.cfg.Frontends {
		id := p.ids["fe:"+fc.Name]
		e := get(id)
		f := p.frontMap[fc.Name]
		row := statRow{typ: rowFrontend, iid: id, proxy: fc.Name, name: "FRONTEND", fields: map[string]string{
			"pxname": fc.Name, "svname": "FRONTEND", "status": "OPEN", "pid": "1", "iid": strconv.Itoa(id), "sid": "0",
			"type": "0", "mode": fc.Mode.String(), "dreq": "0", "dresp": "0", "ereq": "0",
			"rate": "0", "rate_lim": "0", "rate_max": "0", "conn_rate": "0", "conn_rate_max": "0",
		}}
		if fc.MaxConn > 0 {
			row.fields["slim"] = strconv.Itoa(fc.MaxConn)
		}
		if f != nil {
			row.fields["scur"] = u(f.cur.Load())
			row.fields["smax"] = u(f.max.Load())
			row.fields["stot"] = ui(f.total.Load())
			row.fields["conn_tot"] = ui(f.total.Load())
			row.fields["bin"] = u(f.bytesIn.Load())
			row.fields["bout"] = u(f.bytesOut.Load())
			row.fields["dreq"] = ui(f.denied.Load())
		} else if s := p.statsFor(fc.Name); s != nil {
			row.fields["scur"] = u(s.cur.Load())
			row.fields["stot"] = ui(s.total.Load())
			row.fields["conn_tot"] = ui(s.total.Load())
		}
		e.rows = append(e.rows, row)
	}
	for _, b := range p.backs {
		id := p.ids["be:"+b.Name]
		e := get(id)
		bs := b.State()
		for _, s := range b.Servers() {
			e.rows = append(e.rows, serverRow(b, id, s, now))
		}
		e.rows = append(e.rows, backendRow(b, id, bs, now))
	}
	var ids []int
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var out []statRow
	for _, id := range ids {
		out = append(out, byID[id].rows...)
	}
	return out
}

func serverRow(b *Backend, id int, s ServerState, now time.Time) statRow {
	f := map[string]string{
		"pxname": b.Name, "svname": s.Name, "qcur": "0", "qmax": "0",
		"scur": strconv.Itoa(s.Sessions), "smax": strconv.Itoa(s.MaxSess), "stot": ui(s.TotalSess),
		"bin": u(s.BytesIn), "bout": u(s.BytesOut), "dresp": "0", "econ": ui(s.ConnErrors), "eresp": "0",
		"wretr": ui(s.Retries), "wredis": ui(s.Redispatch), "status": s.Status, "weight": strconv.Itoa(s.Weight),
		"lastchg": u(int64(now.Sub(s.LastChange).Seconds())), "pid": "1", "iid": strconv.Itoa(id),
		"sid": strconv.Itoa(s.ID), "lbtot": ui(s.TotalSess), "type": "2", "rate": "0", "rate_max": "0",
		"cli_abrt": "0", "srv_abrt": "0", "lastsess": "-1", "qtime": "0", "ctime": "0", "rtime": "0", "ttime": "0",
		"addr": s.Addr, "mode": "tcp", "uweight": strconv.Itoa(s.Weight),
	}
	if s.Backup {
		f["act"], f["bck"] = "0", "1"
	} else {
		f["act"], f["bck"] = "1", "0"
	}
	if s.SessLimit > 0 {
		f["slim"] = strconv.Itoa(s.SessLimit)
	}
	if s.Checked {
		f["chkfail"] = ui(s.CheckFails)
		f["chkdown"] = ui(s.DownTrans)
		f["downtime"] = u(int64(s.Downtime.Seconds()))
		f["check_rise"] = strconv.Itoa(s.Params.Rise)
		f["check_fall"] = strconv.Itoa(s.Params.Fall)
		f["check_health"] = strconv.Itoa(s.Health.Health)
		if s.ChecksOn && s.Admin != AdminMaint {
			code := s.LastCheck.Status.Code()
			if s.Checking {
				code = "* " + code
			}
			f["check_status"] = code
			f["check_desc"] = s.LastCheck.Status.Description()
			if s.LastCheck.Status >= tcpcheck.StatusL7OK {
				f["check_code"] = "0"
			}
			if !s.LastCheckT.IsZero() {
				f["check_duration"] = u(s.LastCheck.Duration.Milliseconds())
			}
			if !s.Checking {
				f["last_chk"] = escapeControls(s.LastCheck.Info)
			}
		}
	}
	return statRow{typ: rowServer, iid: id, sid: s.ID, proxy: b.Name, name: s.Name, fields: f, server: &s}
}

func backendRow(b *Backend, id int, bs BackendState, now time.Time) statRow {
	status := "UP"
	if !bs.Up {
		status = "DOWN"
	}
	f := map[string]string{
		"pxname": b.Name, "svname": "BACKEND", "qcur": strconv.Itoa(bs.Queued), "qmax": "0",
		"scur": strconv.Itoa(bs.Sessions), "smax": strconv.Itoa(bs.MaxSess), "stot": ui(bs.TotalSess),
		"bin": u(bs.BytesIn), "bout": u(bs.BytesOut), "dreq": ui(bs.Denied), "dresp": "0", "econ": "0", "eresp": "0",
		"wretr": "0", "wredis": "0", "status": status, "weight": strconv.Itoa(bs.TotalWeight),
		"act": strconv.Itoa(bs.Active), "bck": strconv.Itoa(bs.Backup), "chkdown": ui(bs.DownTrans),
		"lastchg": u(int64(now.Sub(bs.LastChange).Seconds())), "downtime": u(int64(bs.Downtime.Seconds())),
		"pid": "1", "iid": strconv.Itoa(id), "sid": "0", "lbtot": ui(bs.TotalSess), "type": "1",
		"rate": "0", "rate_max": "0", "lastsess": "-1", "mode": "tcp", "algo": b.cfg.Balance.String(),
		"conn_tot": ui(bs.TotalSess), "qtime": "0", "ctime": "0", "rtime": "0", "ttime": "0",
		"uweight": strconv.Itoa(bs.TotalWeight),
	}
	return statRow{typ: rowBackend, iid: id, proxy: b.Name, name: "BACKEND", fields: f, be: &bs}
}

// escapeControls makes text a server sent (the first line of a check
// reply) safe for the CSV, "show stat" and a terminal: control bytes and
// bytes that are not UTF-8 are escaped as \xHH, so the result is one
// printable line that still shows what came (a backslash is left alone,
// so "\x00" sent literally reads the same as a NUL: the price of keeping
// the usual text, check patterns included, unchanged).
// They are escaped rather than stripped because an operator reading why a
// check failed wants to see that the server sent, say, an ESC or a NUL.
// (HAProxy's option redis-check also reports the reply's first line; how
// it treats control bytes in it was not checked for this.)
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r >= 0x80 && r < 0xa0:
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// csvField encodes a value as HAProxy's csv_enc does: quoted only when it
// holds a comma, a quote or a line break, with quotes doubled.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// writeCSV writes HAProxy's "show stat" CSV: a "# " header and one line per
// row, each field followed by a comma, then an empty line.
func writeCSV(b *strings.Builder, rows []statRow) {
	b.WriteString("# ")
	for _, f := range statFields {
		b.WriteString(f)
		b.WriteByte(',')
	}
	b.WriteByte('\n')
	for _, r := range rows {
		for _, f := range statFields {
			b.WriteString(csvField(r.fields[f]))
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}
