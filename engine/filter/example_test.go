package filter_test

import (
	"fmt"
	"sort"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/engine/filter/jmes"
)

// The engine's side of filters: compile at subscribe, file per worker,
// match per publish.
func ExampleIndex() {
	cfg := filter.DefaultConfig()
	cfg.TagFiltering = true
	cfg.Expressions = jmes.Compiler{}

	x := filter.NewIndex[string]() // one per channel per shard worker
	subs := map[string]string{
		"alice": `{"key":"region","cmp":"eq","val":"eu"}`,
		"bob":   `{"events":["order.updated"],"expression":"data.total >= ` + "`100`" + `"}`,
		"carol": `{"key":"region","cmp":"in","vals":["us","ap"]}`,
	}
	for sub, raw := range subs {
		p, err := filter.Parse([]byte(raw), nil, cfg)
		if err != nil {
			fmt.Println(err) // sent as sockudo:error 4000
			return
		}
		x.Add(sub, p)
	}
	_, err := filter.Parse([]byte(`{"key":"region","cmp":"like","val":"e%"}`), nil, cfg)
	fmt.Println(err)

	msg := &filter.Message{ // one per publish, shared by the workers
		Event: "order.updated", Channel: "orders",
		Tags: map[string]string{"region": "eu"},
		Data: []byte(`{"total":150}`),
	}
	var got []string
	x.Match(msg, func(sub string) { got = append(got, sub) })
	sort.Strings(got)
	fmt.Println(got)
	// Output:
	// Invalid message format: Invalid tags filter: unknown comparison operator: like
	// [alice bob]
}
