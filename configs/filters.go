package configs

// EventNameFiltering is the `event_name_filtering` section: the `events`
// list of a V2 subscription filter.
type EventNameFiltering struct {
	// Enabled enforces `events`; off, the list is shape-checked and dropped.
	Enabled bool `json:"enabled"`
	// MaxEventsPerFilter is the longest `events` list accepted (the
	// compiled cap of 64 stands behind it).
	MaxEventsPerFilter int `json:"max_events_per_filter"`
	// MaxEventNameLength is the longest name in it, in bytes (compiled
	// cap 256).
	MaxEventNameLength int `json:"max_event_name_length"`
}

// TagFiltering is the `tag_filtering` section. It is a pointer in Config
// because Sockudo's `enable_tags` defaults differ with the section's
// presence: true when the section is written without it, false when the
// section is absent (TagsEmitted).
type TagFiltering struct {
	// Enabled applies tag trees and JMESPath expressions at delivery;
	// off (the default), they are still validated at subscribe.
	Enabled bool `json:"enabled"`
	// EnableTags sends the publisher's `tags` on V2 frames.
	EnableTags bool `json:"enable_tags"`
}

// setDefaults runs when the section is present: enable_tags then
// defaults to true, as Sockudo's serde default.
func (t *TagFiltering) setDefaults() { t.EnableTags = true }

// TagFilteringOn is tag_filtering.enabled (false when the section is
// absent).
func (c *Config) TagFilteringOn() bool { return c.TagFiltering != nil && c.TagFiltering.Enabled }

// TagsEmitted is the effective tag_filtering.enable_tags: the key's
// value, true when the section omits it, false when there is no section.
func (c *Config) TagsEmitted() bool { return c.TagFiltering != nil && c.TagFiltering.EnableTags }

func defaultFilters(c *Config) {
	c.EventNameFiltering = EventNameFiltering{Enabled: true, MaxEventsPerFilter: 50, MaxEventNameLength: 200}
}

func (c *Config) filterEnvVars() []envVar {
	f := &c.EventNameFiltering
	return []envVar{
		{"EVENT_NAME_FILTERING_ENABLED", "event_name_filtering.enabled", setBool(&f.Enabled)},
		{"EVENT_NAME_FILTERING_MAX_EVENTS_PER_FILTER", "event_name_filtering.max_events_per_filter", setInt(&f.MaxEventsPerFilter)},
		{"EVENT_NAME_FILTERING_MAX_EVENT_NAME_LENGTH", "event_name_filtering.max_event_name_length", setInt(&f.MaxEventNameLength)},
		{"TAG_FILTERING_ENABLED", "tag_filtering.enabled", func(v string) error {
			if c.TagFiltering == nil {
				c.TagFiltering = &TagFiltering{} // no section: enable_tags stays false, as in Sockudo
			}
			return setBool(&c.TagFiltering.Enabled)(v)
		}},
	}
}

func (c *Config) validateFilters(v *checker) {
	v.atLeast("event_name_filtering.max_events_per_filter", c.EventNameFiltering.MaxEventsPerFilter, 1)
	v.atLeast("event_name_filtering.max_event_name_length", c.EventNameFiltering.MaxEventNameLength, 1)
}
