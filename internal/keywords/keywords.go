// Package keywords computes a section's frequent words (shown as keyword
// chips on the playback page) and searches its transcript (API.md §6.5, T20).
package keywords

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// TopN is how many frequent words a section gets, as in the original.
const TopN = 5

var (
	fencedCode = regexp.MustCompile("(?s)```.*?```|~~~.*?~~~")
	mdLink     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	notWordASC = regexp.MustCompile(`[^A-Za-z0-9 ]`)
)

// ReduceMarkdown turns a markdown description into plain words the way the
// original did: fenced code blocks removed (code is not vocabulary), links
// reduced to their label (URLs are not vocabulary either), then every
// character outside [A-Za-z0-9 ] replaced by a space. Non-ASCII letters are
// dropped with the punctuation, as the original's character class did.
func ReduceMarkdown(md string) string {
	s := fencedCode.ReplaceAllString(md, " ")
	s = mdLink.ReplaceAllString(s, "$1")
	return notWordASC.ReplaceAllString(s, " ")
}

// FrequentWords returns the TopN most common words of the description and
// the transcript phrases, lower-cased, stop words removed; ties keep the
// order in which the words first occur (description first). Never nil, so
// it encodes as [] rather than null.
//
// The original tokenised with NLTK's Treebank tokenizer, which also counts
// punctuation tokens from transcripts; here transcript phrases are split on
// anything that is not a letter or digit, so chips are always words (the
// pieces of contractions, "don" + "t", are stop words either way).
func FrequentWords(description string, transcriptTexts []string) []string {
	count := map[string]int{}
	var order []string
	add := func(w string) {
		if w == "" || stopWords[w] {
			return
		}
		if count[w] == 0 {
			order = append(order, w)
		}
		count[w]++
	}
	for _, w := range strings.Fields(strings.ToLower(ReduceMarkdown(description))) {
		add(w)
	}
	for _, phrase := range transcriptTexts {
		for _, w := range strings.FieldsFunc(strings.ToLower(phrase), notWordRune) {
			add(w)
		}
	}
	// A stable sort by count keeps first-occurrence order among ties, as
	// Python's Counter.most_common does.
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(count[b], count[a]) })
	if len(order) > TopN {
		order = order[:TopN]
	}
	return append([]string{}, order...)
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
