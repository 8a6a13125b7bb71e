package configs

import (
	"strings"
	"testing"
)

// TestFilterSections: Sockudo's defaults, file values and environment
// overrides of event_name_filtering and tag_filtering, including
// enable_tags' default that depends on the section being present.
func TestFilterSections(t *testing.T) {
	c, warnings := mustParse(t, withApp(app1), nil)
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	requireEqual(t, "event_name_filtering defaults", c.EventNameFiltering, EventNameFiltering{Enabled: true, MaxEventsPerFilter: 50, MaxEventNameLength: 200})
	if c.TagFilteringOn() || c.TagsEmitted() {
		t.Fatalf("no tag_filtering section: enabled %v, tags emitted %v; want both false", c.TagFilteringOn(), c.TagsEmitted())
	}

	c, _ = mustParse(t, withApp(app1, `"tag_filtering":{"enabled":true}`), nil)
	if !c.TagFilteringOn() || !c.TagsEmitted() {
		t.Fatalf("section without enable_tags: enabled %v, tags emitted %v; want both true", c.TagFilteringOn(), c.TagsEmitted())
	}
	c, warnings = mustParse(t, withApp(app1, `"tag_filtering":{"enabled":true,"enable_tags":false}`,
		`"event_name_filtering":{"enabled":false,"max_events_per_filter":5,"max_event_name_length":20}`), nil)
	if len(warnings) != 0 || !c.TagFilteringOn() || c.TagsEmitted() {
		t.Fatalf("Sockudo's shipped section: %v %v %v", warnings, c.TagFilteringOn(), c.TagsEmitted())
	}
	requireEqual(t, "event_name_filtering", c.EventNameFiltering, EventNameFiltering{MaxEventsPerFilter: 5, MaxEventNameLength: 20})

	c, _ = mustParse(t, withApp(app1), envOf("TAG_FILTERING_ENABLED", "true", "EVENT_NAME_FILTERING_MAX_EVENTS_PER_FILTER", "7",
		"EVENT_NAME_FILTERING_ENABLED", "false", "EVENT_NAME_FILTERING_MAX_EVENT_NAME_LENGTH", "9"))
	if !c.TagFilteringOn() || c.TagsEmitted() {
		t.Fatalf("env without a section: enabled %v, tags emitted %v; want true, false", c.TagFilteringOn(), c.TagsEmitted())
	}
	requireEqual(t, "event_name_filtering from env", c.EventNameFiltering, EventNameFiltering{MaxEventsPerFilter: 7, MaxEventNameLength: 9})

	for _, bad := range []struct{ file, key string }{
		{`"event_name_filtering":{"max_events_per_filter":0}`, "event_name_filtering.max_events_per_filter"},
		{`"event_name_filtering":{"max_event_name_length":-1}`, "event_name_filtering.max_event_name_length"},
		{`"tag_filtering":{"enable_tags":"yes"}`, "tag_filtering.enable_tags"},
	} {
		if _, _, err := parse([]byte(withApp(app1, bad.file)), envOf()); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Fatalf("%s: %v", bad.file, err)
		}
	}
}
