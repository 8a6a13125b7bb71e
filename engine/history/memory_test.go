package history_test

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/history/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) engine.HistoryStore {
		return history.NewMemory(c.Now)
	})
}
