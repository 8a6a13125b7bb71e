package resume

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
)

// publisher posts events at a steady rate, round-robin over the
// channels, and counts per channel the publishes the server accepted:
// with recovery on and nothing published before the run, a channel's
// serial head is its first subscriber's serial plus that count.
type publisher struct {
	cfg      *Config
	accepted []atomic.Int64 // per channel
	failed   atomic.Int64
	dropped  atomic.Int64 // due but not sent: every worker busy
	next     atomic.Uint64
	stop     chan struct{}
	wg       sync.WaitGroup
	t0, t1   time.Time

	mu   sync.Mutex
	lat  *hist.H
	errs map[string]int
}

func newPublisher(cfg *Config) *publisher {
	return &publisher{cfg: cfg, accepted: make([]atomic.Int64, cfg.Channels), stop: make(chan struct{}),
		lat: hist.New(), errs: map[string]int{}}
}

// start begins publishing; halt ends it and waits for requests in flight.
func (p *publisher) start() {
	p.t0 = time.Now()
	jobs := make(chan struct{}, 4*p.cfg.PubConc)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.pace(jobs) }()
	for range p.cfg.PubConc {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.worker(jobs) }()
	}
}

func (p *publisher) halt() {
	close(p.stop)
	p.wg.Wait()
	p.t1 = time.Now()
}

func (p *publisher) pace(jobs chan<- struct{}) {
	defer close(jobs)
	period := max(time.Duration(float64(time.Second)/p.cfg.Rate), time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var sent int64
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			due := int64(now.Sub(p.t0).Seconds()*p.cfg.Rate) + 1
			for ; sent < due; sent++ {
				select {
				case jobs <- struct{}{}:
				default:
					p.dropped.Add(1)
				}
			}
		}
	}
}

func (p *publisher) worker(jobs <-chan struct{}) {
	post, err := loadgen.NewPoster(p.cfg.API, p.cfg.Key, p.cfg.Secret)
	if err != nil {
		p.noteErr(err.Error())
		return
	}
	defer post.Close()
	lat := hist.New()
	defer func() { p.mu.Lock(); p.lat.Merge(lat); p.mu.Unlock() }()
	path := "/apps/" + p.cfg.AppID + "/events"
	body := make([]byte, 0, 512)
	for range jobs {
		ch := int((p.next.Add(1) - 1) % uint64(p.cfg.Channels))
		body = append(body[:0], `{"name":`...)
		body = strconv.AppendQuote(body, p.cfg.Event)
		body = append(body, `,"channel":`...)
		body = strconv.AppendQuote(body, channelName(ch))
		body = append(body, `,"data":"`...)
		t0 := time.Now()
		body = wire.AppendPayload(body, t0.UnixNano(), p.cfg.Payload)
		body = append(body, `"}`...)
		status, msg, err := post.Post(path, body)
		switch {
		case err != nil:
			// The outcome is unknown (it may have been broadcast): the
			// run cannot tell a gap from an unsent message, so it fails.
			p.failed.Add(1)
			p.noteErr("api: " + err.Error())
		case status == 200:
			lat.Record(time.Since(t0).Microseconds())
			p.accepted[ch].Add(1)
		default:
			p.failed.Add(1)
			p.noteErr(fmt.Sprintf("HTTP %d: %s", status, msg))
		}
	}
}

func (p *publisher) noteErr(s string) {
	p.mu.Lock()
	if len(p.errs) < 20 || p.errs[s] > 0 {
		p.errs[s]++
	}
	p.mu.Unlock()
}

func (p *publisher) total() int64 {
	var n int64
	for i := range p.accepted {
		n += p.accepted[i].Load()
	}
	return n
}

// channelName is the name of channel index ch (as loadgen names them).
func channelName(ch int) string { return "bench-" + strconv.Itoa(ch) }
