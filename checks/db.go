package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
)

func dbChecks(p *profiles.Profile) []Check {
	d := p.Database
	list := []Check{
		gaussSide.reachable("db.reachable", "openGauss reachable"),
		dbCheck("db.engine", "Database engine and version", checkDbEngine(p)),
		dbCheck("db.compatibility", "Database compatibility mode", checkDbCompatibility(p)),
		dbCheck("db.encoding", "Server encoding", checkDbEncoding(p)),
		dbCheck("db.wal_level", "wal_level for logical decoding", checkDbWalLevel(p)),
		dbCheck("db.slots.free", "Free replication slots", checkDbSlotsFree(p)),
		dbCheck("db.wal_senders", "Free WAL senders", checkDbWalSenders(p)),
		dbCheck("db.cdc_user", "CDC user may use replication slots", checkDbCdcUser(p)),
		dbCheck("db.slots.retained", "WAL retained by inactive slots", checkDbSlotsRetained(p)),
		dbCheck("db.connections", "Connection headroom", checkDbConnections(p)),
		dbCheck("db.primary_keys", "Every table has a primary key", checkDbPrimaryKeys(p)),
		dbCheck("db.timezone", "Time zone", checkDbTimezone(p)),
		dbCheck("db.cluster.nodes", "Every node's role and replication", checkDbClusterNodes),
		dbCheck("db.cluster.sync", "Commits wait for a standby", checkDbClusterSync),
		dbCheck("db.cluster.slots", "CDC slot on every node", checkDbClusterSlots),
		dbCheck("db.backup", "Ready for point-in-time recovery", checkDbBackup),
	}
	keys := make([]string, 0, len(d.Parameters))
	for k := range d.Parameters {
		if k != "wal_level" { // its own check above
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		list = append(list, paramCheck(k, d.Parameters[k]))
	}
	return list
}

func paramCheck(name, want string) Check {
	return dbCheck("db.param."+name, "Parameter "+name, func(ctx context.Context, t *Target, db *dbx.DB) Result {
		e := ParseExpectation(want)
		v, err := db.Setting(ctx, name)
		if err != nil {
			return couldNot(e.Want(0), err, "")
		}
		ok, err := e.Met(v, 0)
		if err != nil {
			return couldNot(e.Want(0), err, "")
		}
		if ok {
			return pass(e.Want(0), v)
		}
		return failed(e.Want(0), v, db.Dialect.SetParameterHint(name, e.Target(0)))
	})
}

// cdcUserVerdict judges the CDC user's right to decode. REPLICATION always suffices; a
// superuser (PostgreSQL) or SYSADMIN (openGauss) too, except on an openGauss with
// separation of duty on (enableSeparationOfDuty), where only REPLICATION decodes.
func cdcUserVerdict(engine dbx.Engine, user string, replication, admin bool, separated string) Result {
	const want = "REPLICATION"
	fix := "ALTER ROLE " + user + " REPLICATION (or give the CDC its own role with REPLICATION and SELECT on the platform's tables)"
	switch {
	case replication:
		return pass(want, user+" has REPLICATION")
	case admin && engine != dbx.OpenGauss:
		return pass(want, user+" is a superuser")
	case admin && separated == "on":
		return failed(want, user+" has SYSADMIN only, and privilege separation is on (enableSeparationOfDuty): SYSADMIN cannot decode", fix)
	case admin:
		return warn(want, user+" has SYSADMIN only", "it decodes while privilege separation is off; "+fix)
	}
	return failed(want, user+" has neither REPLICATION nor SYSADMIN", fix)
}

// checkDbEngine is db.engine: database engine and version.
func checkDbEngine(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	d := p.Database
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := "openGauss >= " + d.MinVersion
		got := db.Dialect.Name()
		switch db.Dialect.Engine {
		case dbx.OpenGauss:
			if d.MinVersion == "" || db.Dialect.VersionAtLeast(d.MinVersion) {
				return pass(want, got)
			}
			return failed(want, got, "upgrade openGauss to "+d.MinVersion+" or later")
		case dbx.PostgreSQL:
			if d.AcceptPostgreSQL {
				return warn(want, got+" (the lab's stand-in)", "sites run openGauss; PostgreSQL is accepted here because the profile allows it")
			}
		}
		return failed(want, got, "xckit installs onto openGauss: point --db at it")
	}
}

// checkDbCompatibility is db.compatibility: database compatibility mode.
func checkDbCompatibility(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	d := p.Database
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := d.CompatibilityMode()
		if db.Dialect.Engine != dbx.OpenGauss {
			return skip(db.Dialect.Name() + " has no compatibility modes")
		}
		var got, name string
		if err := db.QueryRowContext(ctx, "SELECT datcompatibility, current_database() FROM pg_database WHERE datname = current_database()").Scan(&got, &name); err != nil {
			return couldNot(want, err, "")
		}
		if name == "postgres" || strings.HasPrefix(name, "template") {
			// An administrator's connection (install's preflight): the platform's
			// database is made by db-bootstrap with the right mode.
			return skip("connected to " + name + ", not the platform's database: xckit check --db <the platform's DSN> checks its mode")
		}
		if strings.EqualFold(got, want) {
			return pass(want, got)
		}
		return failed(want, got, "the platform's database must be created with DBCOMPATIBILITY '"+want+
			"' (the mode cannot be changed later: in A mode '' is NULL and VARCHAR(n) counts bytes); let xckit install create it, or set database.compatibility in the profile")
	}
}

// checkDbEncoding is db.encoding: server encoding.
func checkDbEncoding(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	d := p.Database
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := d.Encoding
		if want == "" {
			want = "UTF8"
		}
		v, err := db.Setting(ctx, "server_encoding")
		if err != nil {
			return couldNot(want, err, "")
		}
		if strings.EqualFold(v, want) {
			return pass(want, v)
		}
		return failed(want, v, "create the platform's database with ENCODING '"+want+"' (gs_initdb -E UTF8 for the instance)")
	}
}

// checkDbWalLevel is db.wal_level: wal_level for logical decoding.
func checkDbWalLevel(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		v, err := db.Setting(ctx, "wal_level")
		if err != nil {
			return couldNot("logical", err, "")
		}
		if v == "logical" {
			return pass("logical", v)
		}
		return failed("logical", v, "gs_guc set -D $PGDATA -c \"wal_level=logical\", then restart openGauss (PostgreSQL: ALTER SYSTEM SET wal_level = logical; restart)")
	}
}

// checkDbSlotsFree is db.slots.free: free replication slots.
func checkDbSlotsFree(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	d := p.Database
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := fmt.Sprintf(">= %d free", max(d.MinFreeSlots, 1))
		var maxSlots, used int
		v, err := db.Setting(ctx, "max_replication_slots")
		if err == nil {
			fmt.Sscan(v, &maxSlots)
			err = db.QueryRowContext(ctx, "SELECT count(*) FROM pg_replication_slots").Scan(&used)
		}
		if err != nil {
			return couldNot(want, err, "")
		}
		got := fmt.Sprintf("%d free (%d of %d used)", maxSlots-used, used, maxSlots)
		if maxSlots-used >= max(d.MinFreeSlots, 1) {
			return pass(want, got)
		}
		return failed(want, got, "raise max_replication_slots (gs_guc set ... \"max_replication_slots=16\", restart) or drop unused slots")
	}
}

// checkDbWalSenders is db.wal_senders: free WAL senders.
func checkDbWalSenders(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		var maxS, used int
		v, err := db.Setting(ctx, "max_wal_senders")
		if err == nil {
			fmt.Sscan(v, &maxS)
			err = db.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_replication").Scan(&used)
		}
		if err != nil {
			return couldNot(">= 1 free", err, "")
		}
		got := fmt.Sprintf("%d free (%d of %d used)", maxS-used, used, maxS)
		if maxS-used >= 1 {
			return pass(">= 1 free", got)
		}
		return failed(">= 1 free", got, "raise max_wal_senders and restart")
	}
}

// checkDbCdcUser is db.cdc_user: CDC user may use replication slots.
func checkDbCdcUser(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		user := t.CDCUser
		if user == "" {
			user = db.DSN.User
		}
		q := "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = $1"
		if db.Dialect.Engine == dbx.OpenGauss {
			q = "SELECT rolreplication, rolsystemadmin FROM pg_roles WHERE rolname = $1"
		}
		var repl, admin bool
		if err := db.QueryRowContext(ctx, q, user).Scan(&repl, &admin); err != nil {
			return couldNot("REPLICATION", err, "")
		}
		separated := ""
		if db.Dialect.Engine == dbx.OpenGauss && !repl && admin {
			separated, _ = db.Setting(ctx, "enableSeparationOfDuty")
		}
		return cdcUserVerdict(db.Dialect.Engine, user, repl, admin, separated)
	}
}

// checkDbSlotsRetained is db.slots.retained: WAL retained by inactive slots.
func checkDbSlotsRetained(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	d := p.Database
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := "<= " + d.MaxRetainedWAL.String()
		cur, err := cdc.CurrentLSN(ctx, db)
		if err != nil {
			return couldNot(want, err, "")
		}
		rows, err := db.QueryContext(ctx, "SELECT slot_name, COALESCE(restart_lsn::text, '') FROM pg_replication_slots WHERE NOT active")
		if err != nil {
			return couldNot(want, err, "")
		}
		defer rows.Close()
		var worst int64
		var names []string
		for rows.Next() {
			var name, lsn string
			if rows.Scan(&name, &lsn) != nil {
				continue
			}
			if l, err := cdc.ParseLSN(lsn); err == nil && cur > l {
				names = append(names, fmt.Sprintf("%s %s", name, profiles.ByteSize(cur-l).String()))
				worst = max(worst, int64(cur-l))
			}
		}
		got := "no inactive slots"
		if len(names) > 0 {
			got = strings.Join(names, ", ")
		}
		if d.MaxRetainedWAL > 0 && worst > d.MaxRetainedWAL.Bytes() {
			return failed(want, got, "an inactive slot keeps WAL from being recycled: resume its consumer (xckit cdc run) or drop it (xckit cdc drop)")
		}
		return pass(want, got)
	}
}

// checkDbConnections is db.connections: connection headroom.
func checkDbConnections(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		var maxC, used int
		v, err := db.Setting(ctx, "max_connections")
		if err == nil {
			fmt.Sscan(v, &maxC)
			err = db.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity").Scan(&used)
		}
		if err != nil {
			return couldNot("< 80% used", err, "")
		}
		got := fmt.Sprintf("%d of %d in use", used, maxC)
		if maxC > 0 && used*100/maxC >= 80 {
			return warn("< 80% used", got, "payd needs its pools (sum of channel pool sizes + common pool per instance): raise max_connections")
		}
		return pass("< 80% used", got)
	}
}

// checkDbPrimaryKeys is db.primary_keys: every table has a primary key.
func checkDbPrimaryKeys(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		bad, err := db.Strings(ctx, `SELECT t.table_name FROM information_schema.tables t
			WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
			AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY')
			ORDER BY 1`)
		if err != nil {
			return couldNot("none without", err, "")
		}
		if len(bad) == 0 {
			return pass("none without", "all have one")
		}
		return failed("none without", strings.Join(bad, ", "), "add a primary key to each: the CDC and verify need one")
	}
}

// checkDbTimezone is db.timezone: time zone.
func checkDbTimezone(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		v, err := db.Setting(ctx, "TimeZone")
		if err != nil {
			return couldNot("reported", err, "")
		}
		return pass("reported (legacy.timezone compares)", v)
	}
}
