package config

// suggest returns the candidate closest to word when it is close enough to
// be a likely typo (edit distance at most 2, and less than half the word),
// as HAProxy's "did you mean ... maybe ?".
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD && d*2 < len(word) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean is the suggestion suffix of an "unknown keyword" message.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return "; did you mean '" + s + "'?"
	}
	return ""
}
