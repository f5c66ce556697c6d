package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.cfg")
	files = append(files, seedPath)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("backend b\n server s 1.2.3.4:1 check inter 0\n")
	f.Add("defaults x\nfrontend f from x\n bind :1\n")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, warns, err := Parse("fuzz.cfg", strings.NewReader(src), ParseOptions{LookupEnv: func(string) (string, bool) { return "", false }})
		for _, w := range warns {
			if w.Pos.File != "fuzz.cfg" || w.Pos.Line < 1 {
				t.Fatalf("warning without a position: %v", w)
			}
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) && !strings.Contains(err.Error(), "read fuzz.cfg") {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, d := range errs {
				if d.Pos.Line < 1 || d.Msg == "" {
					t.Fatalf("error without position or message: %+v", d)
				}
			}
			return
		}
		// A configuration Parse accepts stays valid when normalized again.
		if err := cfg.Normalize(); err != nil {
			t.Fatalf("accepted configuration fails Normalize: %v", err)
		}
	})
}
