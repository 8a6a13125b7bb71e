package expose

import (
	"bytes"
	"strings"
)

// annotate appends src to dst with a # HELP and a # TYPE line before each
// metric family, and returns dst.
//
// VictoriaMetrics/metrics writes this metadata only when the package-global
// metrics.ExposeMetadata switch is on, which a library must not flip for
// the whole process; promtool and Prometheus want TYPE lines (and linters
// HELP text). So the server renders without metadata and adds its own
// here, from the catalog for its families and from the shape of the lines
// for the process and Go runtime families. Metadata already present (if
// something in the process turned the switch on) is dropped first, so it
// is never doubled.
func (s *Server) annotate(dst, src []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(src)+len(src)/4)
	}
	var cur family
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := s.familyOf(metricName(line), line, cur)
		if f.name != cur.name {
			dst = appendMetadata(dst, f)
			cur = f
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst
}

// metricName returns the name at the start of a sample line.
func metricName(line []byte) string {
	if i := bytes.IndexAny(line, "{ "); i >= 0 {
		return string(line[:i])
	}
	return string(line)
}

// familyOf classifies a sample line. cur is the family of the line before,
// which a _sum or _count line of an unknown histogram or summary continues.
func (s *Server) familyOf(name string, line []byte, cur family) family {
	if f, ok := s.families[name]; ok {
		return f
	}
	for _, suf := range [...]string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		if f, ok := s.families[base]; ok && (f.typ == typeHistogram || f.typ == typeSummary) {
			return f
		}
		if base == cur.name && (cur.typ == typeHistogram || cur.typ == typeSummary) {
			return cur
		}
		if suf == "_bucket" && bytes.Contains(line, []byte(`le="`)) {
			return family{base, typeHistogram, help(base)}
		}
	}
	if bytes.Contains(line, []byte(`quantile="`)) {
		return family{name, typeSummary, help(name)}
	}
	if strings.HasSuffix(name, "_total") {
		return family{name, typeCounter, help(name)}
	}
	return family{name, typeGauge, help(name)}
}

func help(name string) string {
	if h, ok := processHelp[name]; ok {
		return h
	}
	return processHelpDefault
}

func appendMetadata(b []byte, f family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	return append(b, '\n')
}
