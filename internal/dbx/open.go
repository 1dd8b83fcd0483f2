package dbx

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// DB is an open database with its detected dialect.
type DB struct {
	*sql.DB
	DSN     DSN
	Dialect Dialect
}

// Options tunes Open. The zero value is fine.
type Options struct {
	ConnectTimeout time.Duration // default 5s
	MaxOpenConns   int           // default database/sql's (unlimited)
	AppName        string        // application_name / connection attribute
	// MultiStatements (MySQL family): one Exec may carry several statements, the
	// arguments interpolated by the driver (its own escaping, for the connection's
	// charset and sql_mode), so that they go out in one round trip.
	MultiStatements bool
}

// Open connects to the database named by a DSN URL, checks that it answers, and detects
// its dialect from the server's version banner. Errors never contain the password.
func Open(ctx context.Context, raw string, opt Options) (*DB, error) {
	d, err := ParseDSN(raw)
	if err != nil {
		return nil, err
	}
	return OpenDSN(ctx, d, opt)
}

// OpenDSN is Open for an already parsed DSN.
func OpenDSN(ctx context.Context, d DSN, opt Options) (*DB, error) {
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 5 * time.Second
	}
	var (
		db  *sql.DB
		err error
	)
	switch d.Family {
	case FamilyPostgres:
		db, err = openPostgres(d, opt)
	case FamilyMySQL:
		db, err = openMySQL(d, opt)
	default:
		err = fmt.Errorf("unknown database family %q", d.Family)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d, err)
	}
	if opt.MaxOpenConns > 0 {
		db.SetMaxOpenConns(opt.MaxOpenConns)
		db.SetMaxIdleConns(opt.MaxOpenConns)
	}
	pctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout)
	defer cancel()
	var banner string
	if err := db.QueryRowContext(pctx, "SELECT version()").Scan(&banner); err != nil {
		db.Close()
		msg := Redact(sanitize(err, d.Password).Error())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "28000" && strings.Contains(pgErr.Message, "initial user") {
			// openGauss's auth.cpp refuses the initial user (omm) over TCP.
			msg += " (openGauss lets its initial user log in only locally: create another administrator, " +
				"e.g. CREATE USER xcadmin WITH SYSADMIN PASSWORD '...', and give that one, as --admin-db or in the DSN)"
		}
		if d.Params.Get("target_session_attrs") == "read-write" && strings.Contains(err.Error(), "read only connection") {
			// pgx asks every node SHOW transaction_read_only: on for a standby, and for
			// a role with default_transaction_read_only (the rollback's fence).
			msg += " (no node of the DSN lets " + d.User + " write: each is a standby, or the role is read-only, as the rollback's fence makes it" +
				" (xckit cutover lifts it; ALTER ROLE ... RESET default_transaction_read_only by hand))"
		}
		if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || pctx.Err() != nil) {
			msg += fmt.Sprintf(" (no answer within the connect timeout of %s: check host and port, or that it is the database's port)", opt.ConnectTimeout)
		}
		return nil, fmt.Errorf("connect to %s: %s", d, msg)
	}
	dia, err := DetectDialect(d.Family, banner)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", d, err)
	}
	return &DB{DB: db, DSN: d, Dialect: dia}, nil
}

func openPostgres(d DSN, opt Options) (*sql.DB, error) {
	cfg, err := pgConfig(d, opt)
	if err != nil {
		return nil, err
	}
	user, password := cfg.User, cfg.Password
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, conn net.Conn) (net.Conn, error) {
		return newGaussAuthConn(ctx, conn, user, password), nil
	}
	return stdlib.OpenDB(*cfg), nil
}

// pgConfig is pgx's configuration for a PostgreSQL-family DSN.
func pgConfig(d DSN, opt Options) (*pgx.ConnConfig, error) {
	u := d
	u.Scheme = "postgres" // pgx knows postgres:// only; opengauss:// is ours
	u.Params = cloneValues(d.Params)
	if u.Params.Get("sslmode") == "" {
		u.Params.Set("sslmode", "disable") // sites ask for TLS explicitly with ?sslmode=require
	}
	if opt.AppName != "" && u.Params.Get("application_name") == "" {
		u.Params.Set("application_name", opt.AppName)
	}
	u.Params.Set("connect_timeout", fmt.Sprint(int(opt.ConnectTimeout.Seconds()+0.5)))
	cfg, err := pgx.ParseConfig(u.URL())
	if err != nil {
		return nil, errors.New(Redact(sanitize(err, d.Password).Error()))
	}
	return cfg, nil
}

func openMySQL(d DSN, opt Options) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = d.User, d.Password
	cfg.Net, cfg.Addr = "tcp", fmt.Sprintf("%s:%d", d.Host, d.Port)
	if s := d.Params.Get("socket"); s != "" {
		cfg.Net, cfg.Addr = "unix", s
	}
	cfg.DBName = d.Database
	cfg.ParseTime = true
	cfg.Timeout = opt.ConnectTimeout
	cfg.MultiStatements, cfg.InterpolateParams = opt.MultiStatements, opt.MultiStatements
	cfg.Params = map[string]string{}
	charset := "utf8mb4"
	for k, v := range d.Params {
		switch {
		case len(v) == 0 || k == "socket":
		case k == "charset":
			charset = v[0]
		default:
			cfg.Params[k] = v[0] // sent as session variables
		}
	}
	if err := cfg.Apply(mysql.Charset(charset, "")); err != nil {
		return nil, fmt.Errorf("charset %q: %w", charset, err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New(Redact(sanitize(err, d.Password).Error()))
	}
	return sql.OpenDB(conn), nil
}

// sanitize removes a literal password from a driver's error text.
func sanitize(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// IsUniqueViolation reports whether err is a duplicate-key error on any engine
// (SQLSTATE 23505, MySQL error 1062): portable code treats it as "already done".
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == 1062
	}
	return false
}

// IsValueTooLong reports a string longer than its column allows on the PostgreSQL
// family (SQLSTATE 22001, string_data_right_truncation; openGauss raises it from
// varchar() in varchar.cpp as PostgreSQL does), whose message, unlike MySQL's error
// 1406, does not name the column.
func IsValueTooLong(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22001"
}

// IsUndefinedObject reports a reference to an object that does not exist, such as
// a replication slot (SQLSTATE 42704 on PostgreSQL and openGauss alike).
func IsUndefinedObject(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42704"
}

// IsReadOnly reports a write refused because the transaction is read-only (SQLSTATE
// 25006 on the PostgreSQL family): a role with default_transaction_read_only, or any
// session on a standby (openGauss: StartTransaction in xact.cpp forces XactReadOnly
// while RecoveryInProgress; PreventCommandIfReadOnly raises 25006, as PostgreSQL).
func IsReadOnly(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006"
}

// IsUndefinedTable reports a query on a table that does not exist (SQLSTATE 42P01 on
// the PostgreSQL family, openGauss included; error 1146 on MySQL and MariaDB).
func IsUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "42P01"
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == 1146
	}
	return false
}

// IsTransient reports a connection-level failure on any engine: the database is down,
// restarting or briefly busy, and the same statement may succeed after a reconnect.
// PostgreSQL family: SQLSTATE class 08, 57P01 admin shutdown, 57P02 crash shutdown,
// 57P03 cannot connect now, 55006 (a slot held for a moment by another session);
// MySQL: 2006 gone away, 2013 lost connection, 1927 killed connection, 1053 shutdown.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var lost *binlogLost
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &lost):
		return lost.transient()
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ne):
		return true
	case errors.As(err, &pgErr):
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "55006"
	case errors.As(err, &myErr):
		return myErr.Number == 2006 || myErr.Number == 2013 || myErr.Number == 1927 || myErr.Number == 1053
	}
	// Drivers that lose the connection mid-read report it only in words.
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "bad connection") || strings.Contains(s, "unexpected EOF") || strings.Contains(s, "connection reset")
}
