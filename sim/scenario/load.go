package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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
		return where + ": " + e.Msg
	}
	return where + ": " + e.Field + ": " + e.Msg
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
// and validates the scenario in path.
func Load(path string, sets []string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data, sets)
}

// LoadFS reads a scenario from a file system (e.g. the embedded scenarios);
// its relative paths resolve in the same file system.
func LoadFS(fsys fs.FS, name string, sets []string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, name)
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

func parse(name string, data []byte, sets []string, fsys fs.FS) (*Scenario, error) {
	l := &loader{file: name, keyPos: map[string]token.Position{}, valPos: map[string]token.Position{}, setBy: map[string]string{}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, Errors{l.fromYAML(err)}
	}
	for _, doc := range f.Docs {
		l.walk(doc.Body, "")
	}
	var s Scenario
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
			return nil, Errors{l.fromYAML(err)}
		}
	}
	s.File, s.FS = name, fsys
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
		p := join(path, n.Key.String())
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
	for p := fe.path; ; p = parentPath(p) {
		if set, ok := l.setBy[p]; ok {
			e.Set = set
			return e
		}
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
	v := reflect.ValueOf(s).Elem()
	path := ""
	for _, seg := range splitPath(key) {
		if seg.index >= 0 {
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
		if v.Kind() != reflect.Struct {
			return &Error{Set: kv, Field: path, Msg: "has no fields"}
		}
		f, found := fieldByTag(v, seg.name)
		if !found {
			return &Error{Set: kv, Field: join(path, seg.name), Msg: "unknown field; valid here: " + tagsOf(v.Type())}
		}
		v = f
		path = join(path, seg.name)
	}
	target := reflect.New(v.Type())
	if err := yaml.UnmarshalWithOptions([]byte(val), target.Interface(), yaml.Strict()); err != nil {
		msg := "invalid value " + strconv.Quote(val)
		if want := kindOf(v.Type()); want != "" {
			msg += ": want " + want
		}
		return &Error{Set: kv, Field: path, Msg: msg}
	}
	v.Set(target.Elem())
	l.setBy[path] = kv
	return nil
}

type pathSeg struct {
	name  string
	index int
}

// splitPath reads "faults[1].at" as faults, [1], at.
func splitPath(key string) []pathSeg {
	var out []pathSeg
	for _, part := range strings.Split(key, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			out = append(out, pathSeg{name: name, index: -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if err != nil {
				n = 1 << 30 // reported as out of range
			}
			out = append(out, pathSeg{index: n})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
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
	for _, seg := range splitPath(path) {
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

func kindOf(t reflect.Type) string {
	if t == reflect.TypeOf(Duration{}) {
		return "a duration such as 1s or 250ms"
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
