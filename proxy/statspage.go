package proxy

import (
	"fmt"
	"html/template"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// jsonField is one field of HAProxy's ";json" output ("show stat json").
type jsonField struct {
	ObjType    string            `json:"objType"`
	ProxyID    int               `json:"proxyId"`
	ID         int               `json:"id"`
	Field      jsonFieldName     `json:"field"`
	ProcessNum int               `json:"processNum"`
	Tags       map[string]string `json:"tags"`
	Value      jsonValue         `json:"value"`
}

type jsonFieldName struct {
	Pos  int    `json:"pos"`
	Name string `json:"name"`
}

type jsonValue struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// fieldNature gives the "nature" tag of fields that are not gauges.
var fieldNature = map[string]string{
	"pxname": "Name", "svname": "Name", "addr": "Output", "mode": "Output", "algo": "Output",
	"status": "Output", "check_status": "Output", "check_desc": "Output", "last_chk": "Output",
	"slim": "Limit", "qlimit": "Limit", "smax": "Max", "qmax": "Max", "rate_max": "Max",
	"stot": "Counter", "bin": "Counter", "bout": "Counter", "dreq": "Counter", "dresp": "Counter",
	"ereq": "Counter", "econ": "Counter", "eresp": "Counter", "wretr": "Counter", "wredis": "Counter",
	"chkfail": "Counter", "chkdown": "Counter", "lbtot": "Counter", "conn_tot": "Counter",
	"lastchg": "Age", "lastsess": "Age", "downtime": "Duration", "check_duration": "Duration",
}

func statsJSON(rows []statRow) [][]jsonField {
	out := make([][]jsonField, 0, len(rows))
	for _, r := range rows {
		obj := [...]string{"Frontend", "Backend", "Server"}[r.typ]
		var fields []jsonField
		for pos, name := range statFields {
			v, ok := r.fields[name]
			if !ok || v == "" {
				continue
			}
			origin, nature, scope := "Metric", "Gauge", "Process"
			switch name {
			case "pxname", "svname":
				origin = "Key"
			case "status", "check_status", "check_desc", "last_chk", "addr", "mode", "algo":
				origin = "Status"
			case "weight", "slim", "check_rise", "check_fall", "uweight":
				origin = "Config"
			case "pid", "iid", "sid", "type":
				origin, scope = "Key", "Service"
			}
			if n, ok := fieldNature[name]; ok {
				nature = n
			}
			val := jsonValue{Type: "str", Value: v}
			textual := origin == "Status" || name == "pxname" || name == "svname"
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && !textual {
				val = jsonValue{Type: "u64", Value: n}
				if n < 0 {
					val.Type = "s64"
				}
			}
			fields = append(fields, jsonField{ObjType: obj, ProxyID: r.iid, ID: r.sid, Field: jsonFieldName{pos, name}, ProcessNum: 1,
				Tags: map[string]string{"origin": origin, "nature": nature, "scope": scope}, Value: val})
		}
		out = append(out, fields)
	}
	return out
}

// humanTime words a duration as HAProxy's stats page does: 44s, 3m12s,
// 1h02m, 2d03h.
func humanTime(d time.Duration) string {
	s := int64(d.Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
}

// pageRow is a row of the HTML page.
type pageRow struct {
	Class, Name, Status, LastChk, LastChkTip        string
	QCur, QMax, QLim, SCur, SMax, SLim, STot, LbTot string
	BIn, BOut, DReq, ECon, EResp, WRetr, WRedis     string
	Weight, Act, Bck, Chk, Dwn, Dwntme, Addr        string
	Server, Checkbox                                bool
}

type pageProxy struct {
	Name    string
	ID      int
	Rows    []pageRow
	Admin   bool
	Servers bool
	// Sentinel describes Sentinel-aware routing, when the backend follows
	// Sentinel.
	Sentinel, SentinelClass string
}

type pageData struct {
	Version, Host, Node, URI, Banner, BannerClass string
	Pid                                           int
	Uptime                                        string
	Sessions                                      int64
	Proxies                                       []pageProxy
	HideVersion                                   bool
	Now                                           string
}

// bannerText is what HAProxy shows after an admin action.
var bannerText = map[string][2]string{
	stDone: {"Action processed successfully.", "active_up"},
	stPart: {"Action partially processed. Some server names are probably unknown or ambiguous (duplicated names in the backend).", "active_going_down"},
	stNone: {"Nothing has changed.", "active_going_down"},
	stErrP: {"Action not processed because of invalid parameters.", "active_down"},
	stDeny: {"Action denied.", "active_down"},
}

func rowClass(r statRow) string {
	if r.server == nil {
		return "backend"
	}
	s := r.server
	kind := "active"
	if s.Backup {
		kind = "backup"
	}
	switch {
	case s.Admin == AdminMaint:
		return "maintain"
	case s.Admin == AdminDrain:
		return kind + "_draining"
	case !s.Checked || !s.ChecksOn:
		return kind + "_no_check"
	case s.Health.FullyUp():
		return kind + "_up"
	case s.Health.Up():
		return kind + "_going_down"
	case s.Health.FullyDown():
		return kind + "_down"
	}
	return kind + "_going_up"
}

func (s *statsServer) page(w io.Writer, opts statsOptions) {
	rows := s.filter(s.p.statRows(), opts)
	host, _ := os.Hostname()
	data := pageData{
		Version: Version, Host: host, URI: s.st.URI, Pid: os.Getpid(), HideVersion: s.st.HideVersion,
		Uptime: humanTime(time.Since(s.p.start)), Now: time.Now().Format(time.RFC1123),
	}
	for _, f := range s.p.fronts {
		data.Sessions += f.cur.Load()
	}
	if b, ok := bannerText[opts.st]; ok {
		data.Banner, data.BannerClass = b[0], b[1]
	}
	var cur *pageProxy
	for _, r := range rows {
		if cur == nil || cur.Name != r.proxy || cur.ID != r.iid {
			data.Proxies = append(data.Proxies, pageProxy{Name: r.proxy, ID: r.iid})
			cur = &data.Proxies[len(data.Proxies)-1]
			if b := s.p.backMap[r.proxy]; b != nil && len(b.servers) > 0 {
				cur.Admin = s.st.Admin
				cur.Sentinel, cur.SentinelClass = sentinelLine(b.Sentinel())
			}
		}
		f := r.fields
		pr := pageRow{
			Class: rowClass(r), Name: r.name, QCur: f["qcur"], QMax: f["qmax"], QLim: f["qlimit"],
			SCur: f["scur"], SMax: f["smax"], SLim: f["slim"], STot: f["stot"], LbTot: f["lbtot"],
			BIn: f["bin"], BOut: f["bout"], DReq: f["dreq"], ECon: f["econ"], EResp: f["eresp"],
			WRetr: f["wretr"], WRedis: f["wredis"], Weight: f["weight"], Act: f["act"], Bck: f["bck"],
			Chk: f["chkfail"], Dwn: f["chkdown"], Addr: f["addr"],
		}
		switch r.typ {
		case rowFrontend:
			pr.Status = f["status"]
			pr.Class = "frontend"
		case rowBackend:
			pr.Status = humanTime(time.Duration(atoi64(f["lastchg"]))*time.Second) + " " + f["status"]
			if f["downtime"] != "" && f["downtime"] != "0" {
				pr.Dwntme = humanTime(time.Duration(atoi64(f["downtime"])) * time.Second)
			}
		case rowServer:
			sv := r.server
			pr.Server, pr.Checkbox = true, cur.Admin
			cur.Servers = true
			if sv.Checked && sv.ChecksOn || sv.Admin == AdminMaint {
				pr.Status = humanTime(time.Duration(atoi64(f["lastchg"]))*time.Second) + " " + sv.Status
				if !sv.Up && sv.Health.Health > 0 && sv.Admin != AdminMaint {
					pr.Status += " ↑"
				} else if sv.Up && sv.Checked && !sv.Health.FullyUp() && sv.Admin != AdminMaint {
					pr.Status += " ↓"
				}
			} else {
				pr.Status = "no check"
			}
			if st := f["check_status"]; st != "" {
				pr.LastChk = st
				if c := f["check_code"]; c != "" {
					pr.LastChk += "/" + c
				}
				if d := f["check_duration"]; d != "" {
					pr.LastChk += " in " + d + "ms"
				}
				pr.LastChkTip = f["check_desc"] + ": " + f["last_chk"]
			}
			if sv.Checked {
				pr.Dwntme = humanTime(sv.Downtime)
			}
		}
		cur.Rows = append(cur.Rows, pr)
	}
	if err := pageTemplate.Execute(w, data); err != nil {
		s.p.log.Warn("render stats page", "err", err)
	}
}

// sentinelLine is the stats page's line about a backend's Sentinel view.
func sentinelLine(st SentinelState) (string, string) {
	switch {
	case !st.Following:
		return "", ""
	case st.Agreed:
		return fmt.Sprintf("Sentinel: master %s (%d of %d Sentinels reachable), since %s", st.Master, st.Reachable, st.Total, st.Since.Format(time.TimeOnly)), "active_up"
	case st.Since.IsZero():
		return "Sentinel: no answer yet; routing by health checks only", "active_going_down"
	}
	return fmt.Sprintf("Sentinel: no agreement (%s); routing by health checks only", st.Reason), "active_down"
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

var pageTemplate = template.Must(template.New("stats").Funcs(template.FuncMap{"lower": strings.ToLower}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Statistics Report for {{if not .HideVersion}}{{.Version}}{{else}}proxy{{end}} on {{.Host}}</title>
<style>
body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white; margin: 8px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
table.info { border-collapse: collapse; margin-bottom: 12px; }
table.info td { padding: 1px 8px; vertical-align: top; }
table.tbl { border-collapse: collapse; border: 1px solid #999; margin-bottom: 14px; width: 100%; }
table.tbl th, table.tbl td { border: 1px solid #999; padding: 2px 4px; text-align: right; white-space: nowrap; }
table.tbl th { background: #20a0ff; color: white; font-weight: normal; }
th.pxname { background: #b00040 !important; text-align: left !important; font-size: 14px; font-weight: bold !important; }
table.tbl td.ac, table.tbl th.ac { text-align: left; }
tr.frontend td, tr.backend td { background: #e8e8d0; font-weight: bold; }
tr.active_down td { background: #ff9090; }
tr.active_going_up td { background: #ffd020; }
tr.active_going_down td { background: #ffffa0; }
tr.active_up td { background: #c0ffc0; }
tr.active_draining td { background: #20a0ff; }
tr.active_no_check td { background: #e0e0e0; }
tr.backup_down td { background: #ff9090; }
tr.backup_going_up td { background: #ff80ff; }
tr.backup_going_down td { background: #c060ff; }
tr.backup_up td { background: #b0d0ff; }
tr.backup_draining td { background: #cc9900; }
tr.backup_no_check td { background: #e0e0e0; }
tr.maintain td { background: #c07820; }
.banner { padding: 4px 8px; margin: 6px 0; border: 1px solid #999; }
.banner.active_up { background: #c0ffc0; } .banner.active_down { background: #ff9090; } .banner.active_going_down { background: #ffffa0; }
.legend span { display: inline-block; padding: 1px 6px; margin: 1px; border: 1px solid #999; }
u { text-decoration: underline dotted; }
</style></head><body>
<h1>Statistics Report{{if not .HideVersion}} for {{.Version}}{{end}}</h1>
<table class="info"><tr><td><b>pid = </b>{{.Pid}}<br><b>uptime = </b>{{.Uptime}}<br><b>current sessions = </b>{{.Sessions}}<br><b>generated</b> {{.Now}}</td>
<td class="legend">
<span style="background:#c0ffc0">active UP</span><span style="background:#b0d0ff">backup UP</span>
<span style="background:#ffffa0">active UP, going down</span><span style="background:#ffd020">active DOWN, going up</span>
<span style="background:#ff9090">active or backup DOWN</span><span style="background:#e0e0e0">not checked</span>
<span style="background:#c07820">active or backup MAINT</span><span style="background:#20a0ff">active or backup DRAIN</span>
<br>Note: "MAINT" = UP or DOWN set by an operator; "↑"/"↓" = health rising / falling.
</td></tr></table>
{{if .Banner}}<div class="banner {{.BannerClass}}"><a href="{{.URI}}" title="Remove this message">[X]</a> {{.Banner}}</div>{{end}}
{{range .Proxies}}{{$px := .}}
{{if .Admin}}<form method="post" action="{{$.URI}}">{{end}}
<table class="tbl" id="{{.Name}}">
<tr><th class="pxname" colspan="{{if .Admin}}28{{else}}27{{end}}">{{.Name}}</th></tr>
<tr>{{if .Admin}}<th rowspan="2"></th>{{end}}<th rowspan="2" class="ac">Name</th><th colspan="3">Queue</th><th colspan="5">Sessions</th><th colspan="2">Bytes</th><th colspan="1">Denied</th><th colspan="2">Errors</th><th colspan="2">Warnings</th><th colspan="10">Server</th></tr>
<tr><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>In</th><th>Out</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Addr</th><th>Thrtle</th></tr>
{{range .Rows}}<tr class="{{.Class}}">{{if $px.Admin}}<td>{{if .Checkbox}}<input class="{{$px.Name}}-checkbox" type="checkbox" name="s" value="{{.Name}}">{{end}}</td>{{end}}<td class="ac">{{.Name}}</td>
<td>{{.QCur}}</td><td>{{.QMax}}</td><td>{{.QLim}}</td><td>{{.SCur}}</td><td>{{.SMax}}</td><td>{{.SLim}}</td><td>{{.STot}}</td><td>{{.LbTot}}</td>
<td>{{.BIn}}</td><td>{{.BOut}}</td><td>{{.DReq}}</td><td>{{.ECon}}</td><td>{{.EResp}}</td><td>{{.WRetr}}</td><td>{{.WRedis}}</td>
<td class="ac">{{.Status}}</td><td class="ac">{{if .LastChk}}<u title="{{.LastChkTip}}">{{.LastChk}}</u>{{end}}</td><td>{{.Weight}}</td><td>{{if .Server}}{{if eq .Act "1"}}Y{{else}}-{{end}}{{else}}{{.Act}}{{end}}</td><td>{{if .Server}}{{if eq .Bck "1"}}Y{{else}}-{{end}}{{else}}{{.Bck}}{{end}}</td>
<td>{{.Chk}}</td><td>{{.Dwn}}</td><td>{{.Dwntme}}</td><td class="ac">{{.Addr}}</td><td></td></tr>
{{end}}</table>
{{if .Sentinel}}<div class="banner {{.SentinelClass}}">{{.Sentinel}}</div>{{end}}
{{if .Admin}}<div>Choose the action to perform on the checked servers :
<select name="action"><option value="">---</option><option value="ready">Set state to READY</option><option value="drain">Set state to DRAIN</option><option value="maint">Set state to MAINT</option><option value="dhlth">Health: disable checks</option><option value="ehlth">Health: enable checks</option><option value="hrunn">Health: force UP</option><option value="hdown">Health: force DOWN</option><option value="shutdown">Kill Sessions</option></select>
<input type="hidden" name="b" value="#{{.ID}}"><input type="submit" value="Apply"></div></form>{{end}}
{{end}}
</body></html>
`))
