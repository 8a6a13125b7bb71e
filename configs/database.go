package configs

import (
	"regexp"
	"strings"
)

// AppManagerCache is `app_manager.cache`: how apps read from a database
// are cached (the memory driver has nothing to cache).
type AppManagerCache struct {
	// Enabled serves apps looked up before without a query. Off, every
	// connect and API request queries the database (Sockudo's meaning).
	Enabled bool `json:"enabled"`
	// TTL bounds how stale a cached app may be while the database answers:
	// cached apps are re-read every min(ttl, 10 s). 0, which in Sockudo
	// means "never expires", means every 10 s here: a change must be
	// noticed. While the database is down, cached apps are served past it.
	TTL Seconds `json:"ttl"`
}

// DatabaseSQL is `database.mysql` and `database.postgres`: where the
// applications table lives.
type DatabaseSQL struct {
	// Host of the server.
	Host string `json:"host"`
	// Port of the server.
	Port int `json:"port"`
	// Username authenticates.
	Username string `json:"username"`
	// Password goes with Username.
	Password string `json:"password"`
	// Database holds the table.
	Database string `json:"database"`
	// TableName is the applications table.
	TableName string `json:"table_name"`
	// ConnectionPoolSize caps the pool when database_pooling is disabled.
	ConnectionPoolSize int `json:"connection_pool_size"`
	// PoolMin overrides database_pooling.min (0 = not set).
	PoolMin int `json:"pool_min"`
	// PoolMax overrides database_pooling.max (0 = not set).
	PoolMax int `json:"pool_max"`
	// NotifyChanges installs a trigger on the table that notifies every
	// node of inserted, updated and deleted rows (LISTEN/NOTIFY), so
	// changes apply within a second (our key; PostgreSQL only).
	NotifyChanges bool `json:"notify_changes"`
}

func (AppManagerCache) unusedKeys() []string { return []string{"prefix"} }

func (DatabaseSQL) unusedKeys() []string {
	return []string{"cache_ttl", "cache_max_capacity", "cache_cleanup_interval"}
}

// DatabasePooling is `database_pooling`: the connection pool bounds of
// the SQL app stores.
type DatabasePooling struct {
	// Enabled uses Min and Max; disabled, the pool holds up to
	// connection_pool_size connections.
	Enabled bool `json:"enabled"`
	// Min connections kept open.
	Min int `json:"min"`
	// Max connections.
	Max int `json:"max"`
}

func defaultDatabaseSQL(port int) DatabaseSQL {
	return DatabaseSQL{
		Host: "localhost", Port: port, Username: "root", Database: "sockudo",
		TableName: "applications", ConnectionPoolSize: 10,
	}
}

// SQLDatabase returns the settings of the SQL app_manager.driver (mysql
// or pgsql) and its dotted key, or ok false for the memory driver.
func (c *Config) SQLDatabase() (d DatabaseSQL, key string, ok bool) {
	switch normalizeAppDriver(strings.ToLower(strings.TrimSpace(c.AppManager.Driver))) {
	case "mysql":
		return c.Database.MySQL, "database.mysql", true
	case "pgsql":
		return c.Database.Postgres, "database.postgres", true
	}
	return DatabaseSQL{}, "", false
}

// Pool returns the pool bounds for d as Sockudo computes them: with
// database_pooling enabled its min/max, each overridden by d's
// pool_min/pool_max when set; disabled, up to connection_pool_size.
func (c *Config) Pool(d DatabaseSQL) (min, max int) {
	if !c.DatabasePooling.Enabled {
		return 0, d.ConnectionPoolSize
	}
	min, max = c.DatabasePooling.Min, c.DatabasePooling.Max
	if d.PoolMin > 0 {
		min = d.PoolMin
	}
	if d.PoolMax > 0 {
		max = d.PoolMax
	}
	return min, max
}

// normalizeAppDriver maps the driver aliases Sockudo's environment
// accepts (postgres, postgresql) onto pgsql.
func normalizeAppDriver(s string) string {
	switch s {
	case "postgres", "postgresql":
		return "pgsql"
	case "array":
		return "memory"
	}
	return s
}

var sqlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// validateDatabase checks the settings of the SQL driver in use.
func (c *Config) validateDatabase(v *checker) {
	v.atLeast("app_manager.cache.ttl", int(c.AppManager.Cache.TTL), 0)
	d, key, ok := c.SQLDatabase()
	if !ok {
		return
	}
	v.nonEmpty(key+".host", d.Host)
	v.port(key+".port", d.Port)
	v.nonEmpty(key+".username", d.Username)
	v.nonEmpty(key+".database", d.Database)
	if !sqlIdentifier.MatchString(d.TableName) {
		v.add(key+".table_name", "must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters), got %q", d.TableName)
	}
	if d.NotifyChanges && key != "database.postgres" {
		v.add(key+".notify_changes", "is PostgreSQL only (app_manager.driver pgsql)")
	}
	min, max := c.Pool(d)
	v.atLeast("database_pooling.min", min, 0)
	if max < 1 {
		if c.DatabasePooling.Enabled {
			v.add("database_pooling.max", "must be at least 1, got %d", max)
		} else {
			v.add(key+".connection_pool_size", "must be at least 1, got %d", max)
		}
	}
	if min > max {
		v.add("database_pooling.min", "must not exceed the pool maximum (%d), got %d", max, min)
	}
}

// setSkip sets *p to the negation of a boolean: SOCKUDO_SKIP_INLINE_APPS
// is register_inline_apps inverted.
func setSkip(p *bool) func(string) error {
	return func(v string) error {
		var skip bool
		if err := setBool(&skip)(v); err != nil {
			return err
		}
		*p = !skip
		return nil
	}
}

// sqlEnvVars binds Sockudo's database variables.
func (c *Config) sqlEnvVars() []envVar {
	my, pg, pool := &c.Database.MySQL, &c.Database.Postgres, &c.DatabasePooling
	both := func(v string) error {
		if err := setInt(&my.ConnectionPoolSize)(v); err != nil {
			return err
		}
		return setInt(&pg.ConnectionPoolSize)(v)
	}
	return []envVar{
		{"SOCKUDO_SKIP_INLINE_APPS", "app_manager.register_inline_apps", setSkip(&c.AppManager.RegisterInlineApps)},
		{"APP_MANAGER_REGISTER_INLINE_APPS", "app_manager.register_inline_apps", setBool(&c.AppManager.RegisterInlineApps)},
		{"CACHE_TTL_SECONDS", "app_manager.cache.ttl", setInt(&c.AppManager.Cache.TTL)},
		{"DATABASE_MYSQL_HOST", "database.mysql.host", setString(&my.Host)},
		{"DATABASE_MYSQL_PORT", "database.mysql.port", setInt(&my.Port)},
		{"DATABASE_MYSQL_USERNAME", "database.mysql.username", setString(&my.Username)},
		{"DATABASE_MYSQL_PASSWORD", "database.mysql.password", setString(&my.Password)},
		{"DATABASE_MYSQL_DATABASE", "database.mysql.database", setString(&my.Database)},
		{"DATABASE_MYSQL_TABLE_NAME", "database.mysql.table_name", setString(&my.TableName)},
		{"DATABASE_MYSQL_POOL_MIN", "database.mysql.pool_min", setInt(&my.PoolMin)},
		{"DATABASE_MYSQL_POOL_MAX", "database.mysql.pool_max", setInt(&my.PoolMax)},
		{"DATABASE_POSTGRES_HOST", "database.postgres.host", setString(&pg.Host)},
		{"DATABASE_POSTGRES_PORT", "database.postgres.port", setInt(&pg.Port)},
		{"DATABASE_POSTGRES_USERNAME", "database.postgres.username", setString(&pg.Username)},
		{"DATABASE_POSTGRES_PASSWORD", "database.postgres.password", setString(&pg.Password)},
		{"DATABASE_POSTGRES_DATABASE", "database.postgres.database", setString(&pg.Database)},
		{"DATABASE_POSTGRES_TABLE_NAME", "database.postgres.table_name", setString(&pg.TableName)},
		{"DATABASE_POSTGRES_POOL_MIN", "database.postgres.pool_min", setInt(&pg.PoolMin)},
		{"DATABASE_POSTGRES_POOL_MAX", "database.postgres.pool_max", setInt(&pg.PoolMax)},
		{"DATABASE_CONNECTION_POOL_SIZE", "database.mysql.connection_pool_size", both},
		{"DATABASE_POOLING_ENABLED", "database_pooling.enabled", setBool(&pool.Enabled)},
		{"DATABASE_POOL_MIN", "database_pooling.min", setInt(&pool.Min)},
		{"DATABASE_POOL_MAX", "database_pooling.max", setInt(&pool.Max)},
	}
}

// appDriverIsSQL reports whether apps come from a database.
func (c *Config) appDriverIsSQL() bool {
	_, _, ok := c.SQLDatabase()
	return ok
}
