package sqlstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL change notification (Options.Notify): a trigger on the table
// calls pg_notify with the id of every inserted, updated or deleted row,
// and one connection per node LISTENs, so a change applies within a second
// instead of at the next refresh. The refresh keeps running: it catches
// what a broken listener connection missed.

func (s *Store) channel() string { return "sockudo_" + s.opts.Table + "_changes" }

// installTrigger creates the notify function and trigger (idempotent;
// concurrent start-ups may race, which the DO block tolerates by checking
// first).
func (s *Store) installTrigger(ctx context.Context) error {
	if s.d.name != "pgsql" {
		return errNotifyUnsupported
	}
	fn := s.d.quote("sockudo_" + s.opts.Table + "_notify")
	trg := "sockudo_" + s.opts.Table + "_notify"
	t := s.d.quote(s.opts.Table)
	sql := `CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM pg_notify('` + s.channel() + `', OLD.id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM pg_notify('` + s.channel() + `', NEW.id);
	END IF;
	RETURN NULL;
END $fn$;
DO $do$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '` + trg + `' AND tgrelid = '` + t + `'::regclass) THEN
		CREATE TRIGGER ` + s.d.quote(trg) + ` AFTER INSERT OR UPDATE OR DELETE ON ` + t + `
			FOR EACH ROW EXECUTE FUNCTION ` + fn + `();
	END IF;
END $do$`
	_, err := s.db.exec(ctx, sql)
	return err
}

// listen starts the listener when Options.Notify is set; the returned
// function stops it.
func (s *Store) listen() func() {
	pg, ok := s.db.(*pgBackend)
	if !s.opts.Notify || !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := s.listenOnce(ctx, pg); err != nil && ctx.Err() == nil {
				s.log.Warn("app store: change listener lost; retrying (changes still apply at each refresh)", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(retryInterval):
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Store) listenOnce(ctx context.Context, pg *pgBackend) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, pg.pool.Config().ConnConfig.Copy())
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+s.d.quote(s.channel())); err != nil {
		return err
	}
	// Anything changed while no one listened is caught by a refresh now.
	s.poke()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.reload(rctx, n.Payload); err != nil {
			s.log.Warn("app store: reload after notification failed", "id", n.Payload, "err", err)
		}
		cancel()
	}
}
