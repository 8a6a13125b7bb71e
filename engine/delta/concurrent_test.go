package delta

import (
	"sync"
	"testing"
)

// TestConcurrentFor: workers serve their own subscribers from shared
// publications while the next ones are being published, as shard workers
// will; under -race this checks Publication and Channel sharing, and every
// client still reconstructs every frame.
func TestConcurrentFor(t *testing.T) {
	o := testOptions()
	o.ConflationKeyPath = "symbol"
	ch := NewChannel("c", o)
	tks := []*ticker{newTicker(1, "A"), newTicker(2, "B")}
	const workers, perWorker, messages = 4, 25, 200
	type msg struct {
		p     *Publication
		frame []byte
	}
	queues := make([]chan msg, workers)
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range queues {
		queues[w] = make(chan msg, 16)
		wg.Add(1)
		go func(q chan msg, algo Algorithm) {
			defer wg.Done()
			subs := make([]*subscriber, perWorker)
			for i := range subs {
				subs[i] = newSubscriber(algo)
			}
			for m := range q {
				for _, s := range subs {
					frame, _ := m.p.For(&s.sub, s.algo)
					text, ok, err := s.client.Receive(frame)
					if err != nil || !ok || text != string(m.frame) {
						errs <- "mismatch"
						for range q {
						}
						return
					}
				}
			}
		}(queues[w], Algorithm(w%2))
	}
	for i := 0; i < messages; i++ {
		f := v2Frame("e", "c", tks[i%2].next(), "")
		p := ch.Publish(Message{Event: "e", Frame: f}, t0)
		for _, q := range queues {
			q <- msg{p, f}
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
