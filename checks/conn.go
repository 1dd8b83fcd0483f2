package checks

import (
	"context"
	"fmt"

	"github.com/xckit/xckit/internal/dbx"
)

// side is one database the checks read: which flag gives it, its connection on the
// Target, and what to look at when the connection failed.
type side struct {
	flag        string
	conn        func(*Target) (*dbx.DB, error)
	remedy      string // for a check that could not run without the connection
	reachRemedy string // for the reachable check itself
}

var (
	gaussSide = side{flag: "--db", conn: func(t *Target) (*dbx.DB, error) { return t.DB, t.DBErr },
		remedy:      "check --db (host, port, user, password) and that openGauss listens there",
		reachRemedy: "check --db (host, port, user, password), pg_hba.conf and listen_addresses"}
	legacySide = side{flag: "--legacy", conn: func(t *Target) (*dbx.DB, error) { return t.Legacy, t.LegErr },
		remedy:      "check --legacy (host, port, user, password)",
		reachRemedy: "check --legacy (host, port, user, password) and the user's host grants"}
)

// check wraps a check that needs this side's connection: it could not run when the
// connection failed, and is skipped when the flag was not given.
func (s side) check(id, title string, f func(ctx context.Context, t *Target, db *dbx.DB) Result) Check {
	return check{id, title, func(ctx context.Context, t *Target) Result {
		db, err := s.conn(t)
		if db == nil {
			if err != nil {
				return couldNot("a connection", err, s.remedy)
			}
			return skip("no " + s.flag + " given")
		}
		return f(ctx, t, db)
	}}
}

// reachable is the check that the connection itself was made.
func (s side) reachable(id, title string) Check {
	return check{id, title, func(ctx context.Context, t *Target) Result {
		db, err := s.conn(t)
		if db == nil {
			if err != nil {
				return failed("a connection", dbx.Redact(err.Error()), s.reachRemedy)
			}
			return skip("no " + s.flag + " given")
		}
		if db.DSN.Cluster() {
			at, err := db.ServedBy(ctx)
			if err != nil {
				return failed("a connection", dbx.Redact(err.Error()), s.reachRemedy)
			}
			return pass("a connection", fmt.Sprintf("connected as %s to %s, the node of %d that accepts writes", db.DSN.User, at, len(db.DSN.Endpoints())))
		}
		return pass("a connection", "connected as "+db.DSN.User+" to "+db.DSN.Host)
	}}
}

// dbCheck wraps a check that needs the openGauss connection.
func dbCheck(id, title string, f func(ctx context.Context, t *Target, db *dbx.DB) Result) Check {
	return gaussSide.check(id, title, f)
}

// legacyCheck wraps a check that needs the legacy connection.
func legacyCheck(id, title string, f func(ctx context.Context, t *Target, db *dbx.DB) Result) Check {
	return legacySide.check(id, title, f)
}
