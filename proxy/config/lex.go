package config

import (
	"fmt"
	"os"
	"strings"
)

// splitLine cuts one configuration line into words the way HAProxy's
// parse_line does: blanks separate words, '#' starts a comment, a backslash
// escapes the next character (\\ \  \# \' \" and the sequences \r \n \t \xHH;
// any other escape is kept as written), single quotes take everything
// literally, double quotes process escapes and expand $VAR and ${VAR} from
// the environment. It returns the words and, for
// input HAProxy would also reject, an error describing it.
//
// lookupEnv may be nil, in which case os.LookupEnv is used.
func splitLine(line string, lookupEnv func(string) (string, bool)) ([]string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		squote  bool
		dquote  bool
		startSq int
		startDq int
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case squote:
			if c == '\'' {
				squote = false
				continue
			}
			cur.WriteByte(c)
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("backslash at end of line")
			}
			i++
			inWord = true
			switch e := line[i]; e {
			case ' ', '\\', '#', '\'', '"':
				cur.WriteByte(e)
			case '$':
				// \$ escapes the expansion inside double quotes only.
				if !dquote {
					cur.WriteByte('\\')
				}
				cur.WriteByte('$')
			case 'r':
				cur.WriteByte('\r')
			case 'n':
				cur.WriteByte('\n')
			case 't':
				cur.WriteByte('\t')
			case 'x':
				if i+2 >= len(line) || !isHex(line[i+1]) || !isHex(line[i+2]) {
					return nil, fmt.Errorf("invalid hexadecimal escape at position %d: want \\xHH with two hex digits", i)
				}
				cur.WriteByte(unhex(line[i+1])<<4 | unhex(line[i+2]))
				i += 2
			default:
				// HAProxy keeps an unknown escape as written.
				cur.WriteByte('\\')
				cur.WriteByte(e)
			}
		case c == '\'' && !dquote:
			squote = true
			startSq = i
			inWord = true
		case c == '"':
			dquote = !dquote
			startDq = i
			inWord = true
		case c == '$' && dquote:
			name, n := envName(line[i+1:])
			if n == 0 {
				cur.WriteByte(c)
				continue
			}
			if n < 0 {
				return nil, fmt.Errorf("unterminated '${' at column %d", i+1)
			}
			v, _ := lookupEnv(name)
			cur.WriteString(v)
			i += n
		case !dquote && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			flush()
		case !dquote && c == '#':
			flush()
			return words, nil
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if squote {
		return nil, fmt.Errorf("unmatched quote at position %d", startSq+1)
	}
	if dquote {
		return nil, fmt.Errorf("unmatched quote at position %d", startDq+1)
	}
	flush()
	return words, nil
}

// envName reads a variable name after '$': either NAME or {NAME}. It returns
// the name and how many bytes it used, 0 when there is no name (a lone '$'
// stays literal) and -1 for an unterminated brace.
func envName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", -1
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && (s[n] == '_' || isAlnum(s[n])) {
		n++
	}
	return s[:n], n
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
