package webhook

import (
	"context"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// An app's own webhooks are used, with no Options.Targets: a database app
// gets its webhooks. A changed *App (reload, row update) with a new URL
// sends there and no longer to the old one; the same webhooks on a new
// *App keep working.
func TestAppCarriedWebhooksFollowTheApp(t *testing.T) {
	oldRcv, newRcv := newReceiver(t, nil), newReceiver(t, nil)
	s := newSender(t, fast())
	v1 := &engine.App{ID: "db-app", Key: "db-key", Secret: "db-secret", Webhooks: []engine.Webhook{{URL: oldRcv.URL}}}
	s.Webhook(v1, occupied("a"))
	checkFor(t, 5*time.Second, "delivery to the first URL", func() bool { return len(oldRcv.delivered(t)) == 1 })

	same := *v1 // a refreshed copy, same webhooks
	s.Webhook(&same, occupied("b"))
	checkFor(t, 5*time.Second, "delivery to the same URL", func() bool { return len(oldRcv.delivered(t)) == 2 })

	v2 := *v1
	v2.Webhooks = []engine.Webhook{{URL: newRcv.URL, EventTypes: []string{"channel_occupied"}}}
	s.Webhook(&v2, occupied("c"))
	checkFor(t, 5*time.Second, "delivery to the new URL", func() bool { return len(newRcv.delivered(t)) == 1 })
	time.Sleep(50 * time.Millisecond) // nothing more may reach the old URL
	if n := len(oldRcv.delivered(t)); n != 2 {
		t.Fatalf("old URL got %d events after the change, want 2", n)
	}
	if ch := newRcv.delivered(t)[0]["channel"]; ch != "c" {
		t.Fatalf("new URL got channel %v", ch)
	}
}

// An app without webhooks queues nothing and compiles nothing.
func TestAppWithoutWebhooksCostsNothing(t *testing.T) {
	s := newSender(t, Options{})
	bare := &engine.App{ID: "bare", Key: "k", Secret: "s"}
	s.Webhook(bare, occupied("a"))
	if n, _ := s.queue.Len(context.Background()); n != 0 {
		t.Fatal("queued for an app without webhooks")
	}
	if _, ok := s.compiled.m.Load("bare"); ok {
		t.Fatal("compiled targets for an app without webhooks")
	}
	if allocs := testing.AllocsPerRun(100, func() { s.Webhook(bare, occupied("a")) }); allocs != 0 {
		t.Fatalf("Webhook for an app without webhooks allocates %.1f times", allocs)
	}
}
