package configs

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeEmbedsReference keeps the README's configuration section equal
// to REFERENCE.md (headings one level deeper), so the two never drift.
func TestReadmeEmbedsReference(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "(kept identical by configs.TestReadmeEmbedsReference) -->\n", "<!-- END configs/REFERENCE.md -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no embedded configuration reference")
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(ref), "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			l = "#" + l
		}
		want.WriteString(l + "\n")
	}
	if got := s[i+len(begin) : j]; got != want.String() {
		t.Fatal("README.md's configuration section differs from configs/REFERENCE.md: re-embed it")
	}
}
