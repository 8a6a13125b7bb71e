package filter

// Limits bound what one subscription filter may cost to compile and to
// evaluate (Sockudo's PredicateLimits). A zero field means the default.
type Limits struct {
	MaxEvents           int // compiled cap on event names (64)
	MaxEventBytes       int // compiled cap on one event name (256)
	MaxTagNodes         int // nodes in the tag tree (128)
	MaxTagDepth         int // depth of the tag tree (16)
	MaxTagKeyBytes      int // one key (256)
	MaxTagValueBytes    int // one val or vals entry (1024)
	MaxTagValuesPerNode int // vals of one node (128)
	MaxExpressionBytes  int // JMESPath source (4096)
	MaxExpressionNodes  int // JMESPath AST nodes (256)
	MaxExpressionDepth  int // JMESPath AST depth (32)
}

// DefaultLimits are Sockudo's compiled-in caps; they have no config keys.
func DefaultLimits() Limits {
	return Limits{
		MaxEvents:           64,
		MaxEventBytes:       256,
		MaxTagNodes:         128,
		MaxTagDepth:         16,
		MaxTagKeyBytes:      256,
		MaxTagValueBytes:    1024,
		MaxTagValuesPerNode: 128,
		MaxExpressionBytes:  4096,
		MaxExpressionNodes:  256,
		MaxExpressionDepth:  32,
	}
}

// withDefaults fills zero fields so a partially set Limits stays safe.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.MaxEvents, d.MaxEvents)
	fill(&l.MaxEventBytes, d.MaxEventBytes)
	fill(&l.MaxTagNodes, d.MaxTagNodes)
	fill(&l.MaxTagDepth, d.MaxTagDepth)
	fill(&l.MaxTagKeyBytes, d.MaxTagKeyBytes)
	fill(&l.MaxTagValueBytes, d.MaxTagValueBytes)
	fill(&l.MaxTagValuesPerNode, d.MaxTagValuesPerNode)
	fill(&l.MaxExpressionBytes, d.MaxExpressionBytes)
	fill(&l.MaxExpressionNodes, d.MaxExpressionNodes)
	fill(&l.MaxExpressionDepth, d.MaxExpressionDepth)
	return l
}

// Config is what Parse needs from the server configuration. Build it from
// DefaultConfig: the zero value disables event-name filtering, which is not
// Sockudo's default.
type Config struct {
	// EventNameFiltering is event_name_filtering.enabled (default true).
	// Off: `events` is still shape-checked but dropped.
	EventNameFiltering bool
	// MaxEventsPerFilter is event_name_filtering.max_events_per_filter (50).
	MaxEventsPerFilter int
	// MaxEventNameLength is event_name_filtering.max_event_name_length (200 bytes).
	MaxEventNameLength int
	// TagFiltering is tag_filtering.enabled (default false). Off: tags and
	// expression are validated at subscribe and ignored at delivery.
	TagFiltering bool
	// Limits are the compiled caps (DefaultLimits).
	Limits Limits
	// Expressions compiles JMESPath; nil refuses every `expression`.
	Expressions ExprCompiler
}

// DefaultConfig is Sockudo's code default (tag filtering off, event-name
// filtering on), without an expression compiler.
func DefaultConfig() Config {
	return Config{
		EventNameFiltering: true,
		MaxEventsPerFilter: 50,
		MaxEventNameLength: 200,
		Limits:             DefaultLimits(),
	}
}
