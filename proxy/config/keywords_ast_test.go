package config_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// switchContexts are the parser's functions that dispatch on keyword
// words with a switch, and the keyword contexts their cases belong to.
var switchContexts = map[string][]string{
	"globalKeyword":    {"global"},
	"globalStats":      {"global stats", "stats socket"},
	"kwMode":           {"mode"},
	"kwBind":           {"bind"},
	"option":           {"option"},
	"kwTimeout":        {"timeout"},
	"serverParams":     {"server"},
	"kwStats":          {"stats"},
	"kwTCPCheck":       {"tcp-check"},
	"parseConnectRule": {"tcp-check connect"},
	"parseExpectRule":  {"tcp-check expect"},
	"kwRedisSentinel":  {"redis-sentinel"},
}

// Words in those switches that are values, not keywords: the conditions
// of "stats admin if TRUE".
var caseValues = []string{"if", "unless", "TRUE", "FALSE"}

// Every word the parser's switches dispatch on is in the keyword table
// (and so, by the reference test, documented): a case added to a switch
// without its table entry fails here, naming the word and the line.
func TestEveryWordTheParserSwitchesOnIsInTheKeywordTable(t *testing.T) {
	table := map[string]map[string]bool{}
	for _, k := range config.Keywords() {
		if table[k.Context] == nil {
			table[k.Context] = map[string]bool{}
		}
		table[k.Context][k.Name] = true
	}
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ctxs, ok := switchContexts[fn.Name.Name]
			if !ok {
				continue
			}
			seen[fn.Name.Name] = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				cc, ok := n.(*ast.CaseClause)
				if !ok {
					return true
				}
				for _, e := range cc.List {
					for _, lit := range caseWords(e) {
						w, err := strconv.Unquote(lit.Value)
						if err != nil || slices.Contains(caseValues, w) {
							continue
						}
						if !slices.ContainsFunc(ctxs, func(c string) bool { return table[c][w] }) {
							t.Errorf("%s: %s switches on %q, which the keyword table has in none of %q", fset.Position(lit.Pos()), fn.Name.Name, w, ctxs)
						}
					}
				}
				return true
			})
		}
	}
	for name := range switchContexts {
		if !seen[name] {
			t.Errorf("function %s is gone: update switchContexts", name)
		}
	}
}

// caseWords are the string literals a case compares with: the case
// values themselves, and the operands of == in a boolean case.
func caseWords(e ast.Expr) []*ast.BasicLit {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return []*ast.BasicLit{e}
		}
	case *ast.ParenExpr:
		return caseWords(e.X)
	case *ast.BinaryExpr:
		switch e.Op {
		case token.EQL:
			return append(caseWords(e.X), caseWords(e.Y)...)
		case token.LAND, token.LOR:
			return append(caseWords(e.X), caseWords(e.Y)...)
		}
	}
	return nil
}
