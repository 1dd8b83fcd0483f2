package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// Setting reads one server parameter: SHOW name on openGauss and PostgreSQL, the
// global variable on MySQL and MariaDB.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	if !settingName.MatchString(name) {
		return "", fmt.Errorf("setting %q: not a parameter name", name)
	}
	var v string
	var err error
	if db.Dialect.Family() == FamilyMySQL {
		var n string
		err = db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'").Scan(&n, &v)
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("%s has no variable %s", db.Dialect.Name(), name)
		}
	} else {
		err = db.QueryRowContext(ctx, "SHOW "+name).Scan(&v)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// SetParameterHint is the command that sets a server parameter and reloads it, for a
// DBA to run: gs_guc on the openGauss host, ALTER SYSTEM on PostgreSQL, SET GLOBAL
// (and my.cnf, to keep it) on MySQL and MariaDB.
func (d Dialect) SetParameterHint(name, value string) string {
	switch {
	case d.Engine == OpenGauss:
		return fmt.Sprintf("on the database host run gs_guc reload -D $PGDATA -c \"%s=%s\"", name, value)
	case d.Family() == FamilyMySQL:
		return fmt.Sprintf("SET GLOBAL %s = '%s' (and in my.cnf, to keep it across restarts)", name, value)
	}
	return fmt.Sprintf("ALTER SYSTEM SET %s = '%s'; SELECT pg_reload_conf() (a restart may be needed)", name, value)
}
