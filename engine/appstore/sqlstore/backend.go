package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// backend is one database connection pool. Both drivers return rows in
// the order of columns, every value as text.
type backend interface {
	query(ctx context.Context, q string, args ...any) ([]row, error)
	strings(ctx context.Context, q string, args ...any) ([]string, error)
	pairs(ctx context.Context, q string) ([][2]string, error)
	exec(ctx context.Context, q string, args ...any) (int64, error)
	ping(ctx context.Context) error
	// reset drops the pooled connections, which a server restart may
	// have broken all at once.
	reset()
	close()
}

// Conn is where the database is and how many connections to hold.
type Conn struct {
	// Host and Port of the server.
	Host string
	// Port of the server.
	Port int
	// Username and Password authenticate.
	Username string
	// Password goes with Username ("" = none).
	Password string
	// Database is the database (schema, in MySQL's words) holding the table.
	Database string
	// PoolMin is the connections kept open (PostgreSQL; MySQL keeps up to
	// PoolMax idle).
	PoolMin int
	// PoolMax caps open connections (0 = 10).
	PoolMax int
}

func (c Conn) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func (c Conn) poolMax() int {
	if c.PoolMax > 0 {
		return c.PoolMax
	}
	return 10
}

// pgBackend is a pgx pool.
type pgBackend struct{ pool *pgxpool.Pool }

func newPG(c Conn, connectTimeout time.Duration) (*pgBackend, error) {
	u := url.URL{Scheme: "postgres", Host: c.addr(), Path: "/" + c.Database}
	if c.Password != "" {
		u.User = url.UserPassword(c.Username, c.Password)
	} else {
		u.User = url.User(c.Username)
	}
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres settings: %w", err)
	}
	cfg.MaxConns = int32(c.poolMax())
	cfg.MinConns = int32(min(max(c.PoolMin, 0), c.poolMax()))
	cfg.MaxConnIdleTime = 180 * time.Second
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	// Lazily connected: New returns even with the server down; the first
	// query or ping reports it.
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres pool: %w", err)
	}
	return &pgBackend{pool: pool}, nil
}

func (b *pgBackend) query(ctx context.Context, q string, args ...any) ([]row, error) {
	rows, err := b.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vals [len(columns)]*string
	dest := pointersTo(vals[:])
	return collect(rows, func() (r row, err error) {
		err = rows.Scan(dest...)
		for i, v := range vals {
			if v != nil {
				r[i] = field{s: *v, ok: true}
			}
		}
		return r, err
	})
}

func (b *pgBackend) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := b.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (b *pgBackend) pairs(ctx context.Context, q string) ([][2]string, error) {
	rows, err := b.pool.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		err := r.Scan(&p[0], &p[1])
		return p, err
	})
}

func (b *pgBackend) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (b *pgBackend) ping(ctx context.Context) error { return b.pool.Ping(ctx) }
func (b *pgBackend) reset()                         { b.pool.Reset() }
func (b *pgBackend) close()                         { b.pool.Close() }

// myBackend is a database/sql pool of the MySQL driver.
type myBackend struct{ db *sql.DB }

func newMySQL(c Conn, connectTimeout time.Duration, log *slog.Logger) (*myBackend, error) {
	cfg := gomysql.NewConfig()
	// The driver's own lines ("closing bad idle connection") go to the
	// server's log at debug level instead of straight to stderr; failures
	// that matter reach the store as errors and are logged there.
	cfg.Logger = driverLog{log}
	cfg.User, cfg.Passwd = c.Username, c.Password
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", c.addr(), c.Database
	cfg.Timeout = connectTimeout
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: mysql settings: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(c.poolMax())
	db.SetMaxIdleConns(c.poolMax())
	db.SetConnMaxIdleTime(180 * time.Second)
	return &myBackend{db: db}, nil
}

func (b *myBackend) query(ctx context.Context, q string, args ...any) ([]row, error) {
	rows, err := b.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vals [len(columns)]sql.NullString
	dest := pointersTo(vals[:])
	return collect(rows, func() (r row, err error) {
		err = rows.Scan(dest...)
		for i, v := range vals {
			r[i] = field{s: v.String, ok: v.Valid}
		}
		return r, err
	})
}

func (b *myBackend) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collect(rows, func() (s string, err error) {
		err = rows.Scan(&s)
		return s, err
	})
}

func (b *myBackend) pairs(ctx context.Context, q string) ([][2]string, error) {
	rows, err := b.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collect(rows, func() (p [2]string, err error) {
		err = rows.Scan(&p[0], &p[1])
		return p, err
	})
}

func (b *myBackend) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := b.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (b *myBackend) ping(ctx context.Context) error { return b.db.PingContext(ctx) }

// reset is a no-op: database/sql already retries a query on a connection
// the driver reports bad.
func (b *myBackend) reset() {}
func (b *myBackend) close() { _ = b.db.Close() }

// resultRows is the part of a result set both drivers offer alike.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// collect reads every remaining row through scan, so each backend method
// says only how one row is scanned; the caller closes rows.
func collect[T any](rows resultRows, scan func() (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// pointersTo returns Scan destinations for each element of vals.
func pointersTo[T any](vals []T) []any {
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	return dest
}

// driverLog adapts slog to the MySQL driver's Logger.
type driverLog struct{ log *slog.Logger }

func (l driverLog) Print(v ...any) { l.log.Debug("mysql driver: " + fmt.Sprint(v...)) }

// errDuplicateColumn reports MySQL error 1060, which a concurrent ALTER
// adding the same column causes (Sockudo tolerates it too).
func errDuplicateColumn(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == 1060
}
