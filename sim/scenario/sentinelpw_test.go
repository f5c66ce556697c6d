package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sentinel.password is the Sentinels' password; with backend external it
// is given as external.sentinel_password. Neither goes into the settings
// a saved run keeps.
func TestSentinelPasswordIsTakenFromEitherPlaceAndNotSaved(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join("testdata", "external", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ext := strings.Replace(string(valid), "master_name: mymaster\n", "master_name: mymaster\n  sentinel_password: s3cret!\n", 1)
	for name, src := range map[string]string{
		"memory.yaml":   "name: m\nsentinel: {password: s3cret!}\n",
		"external.yaml": ext,
	} {
		s, err := Parse(name, []byte(src), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Sentinel.Password != "s3cret!" {
			t.Errorf("%s: sentinel password %q, want s3cret!", name, s.Sentinel.Password)
		}
		for k, v := range s.Settings() {
			if strings.Contains(v, "s3cret") {
				t.Errorf("%s: setting %s holds the password", name, k)
			}
		}
	}
}

func TestBadSentinelPasswordsGiveOneClearLineEach(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join("testdata", "external", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withExt := func(line string) string {
		return strings.Replace(string(valid), "master_name: mymaster\n", "master_name: mymaster\n  "+line+"\n", 1)
	}
	for name, c := range map[string]struct{ src, want string }{
		"space.yaml":    {"name: a\nsentinel: {password: \"two words\"}\n", "space.yaml:2:22: sentinel.password: invalid password: printable ASCII without spaces, quotes or backslashes"},
		"ext-bad.yaml":  {withExt(`sentinel_password: "a'b"`), "ext-bad.yaml:7:22: external.sentinel_password: invalid password: printable ASCII without spaces, quotes or backslashes"},
		"ext-both.yaml": {withExt("sentinel_password: one") + "sentinel: {password: two}\n", "ext-both.yaml:19:22: sentinel.password: backend external takes the Sentinels' password as external.sentinel_password"},
		"not-ext.yaml":  {"name: a\nexternal: {sentinel_password: x}\n", "not-ext.yaml:2:11: external: only backend external reads an external section: set backend: external, or remove it"},
	} {
		_, err := Parse(name, []byte(c.src), nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", name, err, c.want)
		}
	}
}
