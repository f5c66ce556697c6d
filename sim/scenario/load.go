package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/redisha-sim/redisha-sim/sim/inputfile"
)

// Error is one problem in a scenario: where it is (a file position, or the
// --set that introduced the value), the field, and what is wrong.
type Error struct {
	File      string
	Line, Col int
	// Set is the "--set key=value" the bad value came from, if any.
	Set   string
	Field string
	Msg   string
}

func (e Error) Error() string {
	var where string
	switch {
	case e.Set != "":
		where = "--set " + e.Set
	case e.Line > 0:
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	default:
		where = e.File
	}
	if e.Field == "" {
		return oneLine(where + ": " + e.Msg)
	}
	return oneLine(where + ": " + e.Field + ": " + e.Msg)
}

// oneLine escapes control characters (a newline or a terminal escape in
// a value quoted back), so that an error is one line and prints as text.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Errors lists every problem found, in file order.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, overrides (sets: "key=value", e.g. "sentinel.down_after=1s")
// and validates the scenario in path. The file is read with
// inputfile.Read's size limit.
func Load(path string, sets []string) (*Scenario, error) {
	data, err := inputfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data, sets)
}

// LoadFS reads a scenario from a file system (e.g. the embedded scenarios);
// its relative paths resolve in the same file system.
func LoadFS(fsys fs.FS, name string, sets []string) (*Scenario, error) {
	data, err := inputfile.ReadFS(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return parse(name, data, sets, fsys)
}

// Parse is Load on data already read; name is used in messages and to
// resolve relative paths on disk.
func Parse(name string, data []byte, sets []string) (*Scenario, error) {
	return parse(name, data, sets, nil)
}

// utf8BOM is the byte order mark some editors put first in a file.
var utf8BOM = []byte("\xef\xbb\xbf")

// MaxAliasExpansion bounds the values a scenario's YAML aliases may
// expand to: anchors and aliases are for sharing a few lines, and a file
// of nested aliases (a "billion laughs") would otherwise take all memory
// to decode.
const MaxAliasExpansion = 10000

func parse(name string, data []byte, sets []string, fsys fs.FS) (*Scenario, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	l := &loader{file: name, keyPos: map[string]token.Position{}, valPos: map[string]token.Position{}, setBy: map[string]string{}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, Errors{l.fromYAML(err)}
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	switch {
	case len(docs) == 0:
		return nil, Errors{{File: name, Msg: "empty scenario: write the fields to change (see scenarios/ for examples), or {} to run with every default"}}
	case len(docs) > 1:
		e := Error{File: name, Msg: "a second YAML document: a scenario is one document; remove the '---' and what follows, or put it in a file of its own"}
		if tk := docs[1].Body.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		return nil, Errors{e}
	}
	body := docs[0].Body
	for {
		if a, ok := body.(*ast.AnchorNode); ok {
			body = a.Value
		} else if tg, ok := body.(*ast.TagNode); ok {
			body = tg.Value
		} else {
			break
		}
	}
	switch body.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		e := Error{File: name, Msg: fmt.Sprintf("a scenario is a mapping of fields (name: ..., topology: ...), not %s", body.Type())}
		if tk := body.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		return nil, Errors{e}
	}
	if err := checkNodes(body); err != nil {
		err.File = name
		return nil, Errors{*err}
	}
	l.walk(body, "")
	if errs := l.unknownFields(body, ""); len(errs) > 0 {
		return nil, errs
	}
	var s Scenario
	if err := decodeStrict(data, &s); err != nil {
		return nil, Errors{l.fromYAML(err)}
	}
	s.File, s.FS, s.loc = name, fsys, l
	var errs Errors
	for _, kv := range sets {
		if err := l.set(&s, kv); err != nil {
			errs = append(errs, *err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, fe := range s.normalize() {
		errs = append(errs, l.locate(fe))
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &s, nil
}

// decodeStrict decodes YAML strictly into v. The checks before it
// (checkNodes) keep the decoder away from inputs it is known to crash on;
// should it still panic, that is a bug of the library, reported as an
// error in the input rather than a crash.
func decodeStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this input (%v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
}

// plainTags are the YAML tags a scenario may carry: the core schema's.
// Any other tag has no meaning in a scenario, and the YAML library has
// been seen to crash on some (a custom tag on a sequence field: found by
// FuzzParse).
var plainTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!seq": true, "!!map": true}

// checkNodes refuses a document whose aliases expand to more than
// MaxAliasExpansion values (the error is at the alias that crosses it) or
// that carries a tag other than the core schema's (at the tag).
func checkNodes(root ast.Node) *Error {
	sizes := map[string]int{}
	var bad *Error
	var size func(n ast.Node) int
	size = func(n ast.Node) int {
		if n == nil || bad != nil {
			return 0
		}
		total := 1
		add := func(k int) {
			total = min(total+k, MaxAliasExpansion+1)
		}
		switch n := n.(type) {
		case *ast.AliasNode:
			k := 1
			if n.Value != nil && n.Value.GetToken() != nil {
				k = max(sizes[n.Value.GetToken().Value], 1)
			}
			total = k
		case *ast.AnchorNode:
			k := size(n.Value)
			if n.Name != nil && n.Name.GetToken() != nil {
				sizes[n.Name.GetToken().Value] = k
			}
			total = k
		case *ast.TagNode:
			if tk := n.GetToken(); tk != nil && !plainTags[tk.Value] && bad == nil {
				bad = &Error{Msg: fmt.Sprintf("YAML tag %s is not supported: write the plain value", strconv.Quote(tk.Value))}
				if tk.Position != nil {
					bad.Line, bad.Col = tk.Position.Line, tk.Position.Column
				}
				return 0
			}
			total = size(n.Value)
		case *ast.MappingNode:
			for _, v := range n.Values {
				add(size(v))
			}
		case *ast.MappingValueNode:
			add(size(n.Key))
			add(size(n.Value))
		case *ast.SequenceNode:
			for _, v := range n.Values {
				add(size(v))
			}
		}
		if total > MaxAliasExpansion && bad == nil {
			bad = &Error{Msg: fmt.Sprintf("the YAML aliases here expand to more than %d values; write the values out, or use fewer nested aliases", MaxAliasExpansion)}
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				bad.Line, bad.Col = tk.Position.Line, tk.Position.Column
			}
		}
		return total
	}
	size(root)
	return bad
}

// unknownFields reports every key of n (at path) that the scenario does
// not have, in file order, without descending into them.
func (l *loader) unknownFields(n ast.Node, path string) Errors {
	var errs Errors
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			errs = append(errs, l.unknownFields(v, path)...)
		}
	case *ast.MappingValueNode:
		key := keyName(n.Key)
		if key == "<<" { // a merge: the decoder checks what it brings
			break
		}
		p := join(path, key)
		valid := validFields(path)
		if _, ok := typeAt(p); !ok && valid != "" {
			e := Error{File: l.file, Field: p, Msg: "unknown field; valid here: " + valid}
			if tk := n.Key.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Col = tk.Position.Line, tk.Position.Column
			}
			errs = append(errs, e)
			break
		}
		errs = append(errs, l.unknownFields(n.Value, p)...)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			errs = append(errs, l.unknownFields(v, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case *ast.TagNode:
		errs = append(errs, l.unknownFields(n.Value, path)...)
	case *ast.AnchorNode:
		errs = append(errs, l.unknownFields(n.Value, path)...)
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Col < errs[j].Col
	})
	return errs
}

// keyName is a mapping key as the decoder reads it (unquoted).
func keyName(k ast.MapKeyNode) string {
	if tk := k.GetToken(); tk != nil && (tk.Type == token.StringType || tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType) {
		return tk.Value
	}
	return k.String()
}

// loader maps field paths ("faults[1].target") to positions.
type loader struct {
	file   string
	keyPos map[string]token.Position
	valPos map[string]token.Position
	// setBy maps an overridden path to its "--set key=value".
	setBy map[string]string
}

func (l *loader) walk(n ast.Node, path string) {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			l.walk(v, path)
		}
	case *ast.MappingValueNode:
		p := join(path, keyName(n.Key))
		l.keyPos[p] = *n.Key.GetToken().Position
		if n.Value != nil && n.Value.GetToken() != nil {
			l.valPos[p] = *n.Value.GetToken().Position
		}
		l.walk(n.Value, p)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			if v != nil && v.GetToken() != nil {
				l.valPos[p] = *v.GetToken().Position
				l.keyPos[p] = *v.GetToken().Position
			}
			l.walk(v, p)
		}
	case *ast.TagNode:
		l.walk(n.Value, path)
	case *ast.AnchorNode:
		l.walk(n.Value, path)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fromYAML turns a decoding error into an Error at its position.
func (l *loader) fromYAML(err error) Error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return Error{File: l.file, Msg: err.Error()}
	}
	e := Error{File: l.file, Msg: ye.GetMessage()}
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Col = tk.Position.Line, tk.Position.Column
		e.Field = l.pathAt(*tk.Position)
	}
	var unknown *yaml.UnknownFieldError
	var typeErr *yaml.TypeError
	switch {
	case errors.As(err, &unknown):
		e.Msg = "unknown field"
		if valid := validFields(parentPath(e.Field)); valid != "" {
			e.Msg += "; valid here: " + valid
		}
	case errors.As(err, &typeErr):
		e.Msg = "wrong type: " + strings.TrimPrefix(ye.GetMessage(), "cannot unmarshal ")
		if want := fieldKind(e.Field); want != "" {
			e.Msg = "want " + want
			if tk := ye.GetToken(); tk != nil {
				e.Msg += fmt.Sprintf(", got %q", tk.Value)
			}
		}
	}
	return e
}

// pathAt finds the field path of a position (a key or a value).
func (l *loader) pathAt(pos token.Position) string {
	for p, kp := range l.keyPos {
		if kp.Line == pos.Line && kp.Column == pos.Column {
			return p
		}
	}
	for p, vp := range l.valPos {
		if vp.Line == pos.Line && vp.Column == pos.Column {
			return p
		}
	}
	return ""
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		if p[i] == '[' {
			return p[:i]
		}
		return p[:i]
	}
	return ""
}

// fieldError is a validation problem on a field path.
type fieldError struct {
	path string
	msg  string
	// onKey reports the key's position rather than the value's.
	onKey bool
	// backend reports an error that depends on the backend: when the
	// backend was overridden (--backend, --set backend=...), the message
	// says so, as the file names another.
	backend bool
}

// locate places a validation error: at the --set that gave the value, or at
// the field (its value, or its nearest written parent) in the file.
func (l *loader) locate(fe fieldError) Error {
	e := Error{File: l.file, Field: fe.path, Msg: fe.msg}
	if set, ok := l.setBy["backend"]; ok && fe.backend {
		e.Msg += " (the backend comes from --set " + set + " or --backend)"
	}
	// A value inside what a --set replaced came from it, even where the
	// file had a value too.
	for p := fe.path; ; p = parentPath(p) {
		if set, ok := l.setBy[p]; ok {
			e.Set = set
			return e
		}
		if p == "" {
			break
		}
	}
	for p := fe.path; ; p = parentPath(p) {
		pos, ok := l.valPos[p]
		if fe.onKey || !ok {
			pos, ok = l.keyPos[p]
		}
		if ok {
			e.Line, e.Col = pos.Line, pos.Column
			return e
		}
		if p == "" {
			return e
		}
	}
}

// set applies one "key=value" override to s.
func (l *loader) set(s *Scenario, kv string) *Error {
	key, val, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return &Error{Set: kv, Msg: "want key=value, e.g. sentinel.down_after=1s or faults[0].at=3s"}
	}
	segs, err := splitPath(key)
	if err != nil {
		return &Error{Set: kv, Msg: err.Error()}
	}
	v := reflect.ValueOf(s).Elem()
	path := ""
	for _, seg := range segs {
		if seg.index >= 0 {
			if v.Type() == groupsType { // a list of groups, by index
				v = v.FieldByName("List")
			}
			if v.Kind() != reflect.Slice {
				return &Error{Set: kv, Field: path, Msg: "not a list"}
			}
			if seg.index >= v.Len() {
				return &Error{Set: kv, Field: path, Msg: fmt.Sprintf("index %d out of range: the list has %d entries", seg.index, v.Len())}
			}
			v = v.Index(seg.index)
			path = fmt.Sprintf("%s[%d]", path, seg.index)
			continue
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct || v.Type() == reflect.TypeOf(Duration{}) || v.Type() == groupsType {
			return &Error{Set: kv, Field: join(path, seg.name), Msg: fmt.Sprintf("%s has no fields: it is %s", path, kindOf(v.Type()))}
		}
		f, found := fieldByTag(v, seg.name)
		if !found {
			return &Error{Set: kv, Field: join(path, seg.name), Msg: "unknown field; valid here: " + tagsOf(v.Type())}
		}
		v = f
		path = join(path, seg.name)
	}
	bad := func(why string) *Error {
		msg := "invalid value " + strconv.Quote(val)
		if why != "" {
			msg += ": " + why
		}
		if want := kindOf(v.Type()); want != "" {
			msg += ": want " + want
		}
		return &Error{Set: kv, Field: path, Msg: msg}
	}
	switch strings.TrimSpace(val) {
	case "", "~", "null", "Null", "NULL":
		if v.Kind() != reflect.String {
			// Not a way back to the default: leave the --set out for that.
			return bad("empty")
		}
	}
	// Decoded as the value of a field, as in a file, so that the same
	// values are accepted and refused ("maybe" for a *bool).
	wrapper := reflect.StructOf([]reflect.StructField{{Name: "V", Type: v.Type(), Tag: `yaml:"v"`}})
	doc := "v: " + strings.ReplaceAll(val, "\n", "\n  ")
	if val == "" && v.Kind() == reflect.String {
		doc = `v: ""`
	}
	node, err := parser.ParseBytes([]byte(doc), 0)
	if err != nil {
		return bad("")
	}
	for _, d := range node.Docs {
		if e := checkNodes(d.Body); e != nil {
			return &Error{Set: kv, Field: path, Msg: e.Msg}
		}
	}
	target := reflect.New(wrapper)
	if err := decodeStrict([]byte(doc), target.Interface()); err != nil {
		return bad("")
	}
	v.Set(target.Elem().Field(0))
	l.setBy[path] = kv
	return nil
}

type pathSeg struct {
	name  string
	index int
}

// splitPath reads "faults[1].at" as faults, [1], at.
func splitPath(key string) ([]pathSeg, error) {
	var out []pathSeg
	if key == "" {
		return nil, nil
	}
	for _, part := range strings.Split(key, ".") {
		name, rest, hasIndex := strings.Cut(part, "[")
		if name == "" {
			return nil, fmt.Errorf("empty field name in %q: write fields as in sentinel.down_after or faults[0].at", key)
		}
		out = append(out, pathSeg{name: name, index: -1})
		for hasIndex {
			num, after, closed := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			switch {
			case !closed:
				return nil, fmt.Errorf("missing ']' in %q", key)
			case err != nil || n < 0 || strings.HasPrefix(num, "+"):
				return nil, fmt.Errorf("invalid index %q in %q: want a number from 0, e.g. faults[0].at", num, key)
			}
			out = append(out, pathSeg{index: n})
			if after == "" {
				break
			}
			if !strings.HasPrefix(after, "[") {
				return nil, fmt.Errorf("unexpected %q after ']' in %q: want '.', '[' or the end", after, key)
			}
			rest = after[1:]
		}
	}
	return out, nil
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag == name && tag != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tagsOf(t reflect.Type) string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return strings.Join(out, ", ")
}

// typeAt finds the Go type of a field path, for messages.
func typeAt(path string) (reflect.Type, bool) {
	t := reflect.TypeOf(Scenario{})
	segs, err := splitPath(path)
	if err != nil {
		return nil, false
	}
	for _, seg := range segs {
		if seg.index >= 0 && t == groupsType {
			t = reflect.TypeOf([]GroupSpec(nil))
		}
		for t.Kind() == reflect.Pointer || (seg.index >= 0 && t.Kind() == reflect.Slice) {
			t = t.Elem()
			if seg.index >= 0 {
				break
			}
		}
		if seg.index >= 0 {
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == seg.name {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return t, true
}

func validFields(path string) string {
	t, ok := typeAt(path)
	if !ok {
		return ""
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(Duration{}) {
		return ""
	}
	return tagsOf(t)
}

func fieldKind(path string) string {
	t, ok := typeAt(path)
	if !ok {
		return ""
	}
	return kindOf(t)
}

// groupsType is topology.groups: a number or a list of groups.
var groupsType = reflect.TypeOf(Groups{})

func kindOf(t reflect.Type) string {
	if t == reflect.TypeOf(Duration{}) {
		return "a duration such as 1s or 250ms"
	}
	if t == groupsType {
		return fmt.Sprintf("a number of groups from 1 to %d or a list of groups with fields %s", MaxGroups, tagsOf(reflect.TypeOf(GroupSpec{})))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindOf(t.Elem())
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "a mapping with fields " + tagsOf(t)
	}
	return ""
}
