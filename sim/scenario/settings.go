package scenario

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Settings flattens the scenario into its settings as --set keys and
// values: "sentinel.down_after" → "5s", "faults[0].action" → "kill",
// "expect[1]" → "lost_writes == 0". Its name and description are left
// out (they describe the scenario, they do not change a run), and so is
// the password, which goes into saved runs no further. Fields not
// set (a nil shutdown_sessions) are absent. Call it on a loaded scenario,
// whose defaults are filled in.
func (s *Scenario) Settings() map[string]string {
	out := map[string]string{}
	flatten(reflect.ValueOf(*s), "", out)
	delete(out, "name")
	delete(out, "description")
	delete(out, "topology.password")
	delete(out, "sentinel.password")
	delete(out, "external.sentinel_password")
	return out
}

func flatten(v reflect.Value, path string, out map[string]string) {
	if v.Type() == reflect.TypeOf(Duration{}) {
		out[path] = v.Interface().(Duration).D.String()
		return
	}
	if g, ok := v.Interface().(Groups); ok { // the list, or the number given
		if len(g.List) > 0 {
			flatten(reflect.ValueOf(g.List), path, out)
		} else if g.Count > 0 {
			out[path] = strconv.Itoa(g.Count)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			flatten(v.Elem(), path, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !t.Field(i).IsExported() {
				continue
			}
			flatten(v.Field(i), join(path, tag), out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			flatten(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		out[path] = fmt.Sprint(v.Interface())
	}
}
