package configs

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeEmbedsDocs keeps each document the README embeds identical to
// its source file (headings one level deeper), so they never drift. An
// embedded block is
//
//	<!-- BEGIN path -->
//	...
//	<!-- END path -->
//
// with path relative to the repository root.
func TestReadmeEmbedsDocs(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	for _, path := range []string{"configs/REFERENCE.md", "expose/MONITORING.md", "httpapi/EDGE.md"} {
		begin, end := "<!-- BEGIN "+path+" -->\n", "<!-- END "+path+" -->"
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Errorf("README.md does not embed %s", path)
			continue
		}
		src, err := os.ReadFile("../" + path)
		if err != nil {
			t.Fatal(err)
		}
		if got := s[i+len(begin) : j]; got != demote(string(src)) {
			t.Errorf("README.md's copy of %s differs from the file: re-embed it (see .ci/embed-docs.sh)", path)
		}
	}
}

func demote(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(doc, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			l = "#" + l
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
