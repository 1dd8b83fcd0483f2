package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// The legacy fence: with forward CDC the legacy database stays the source until the
// window ends, so nothing may write to it after the fence position is read, or that
// write would be lost. The fence revokes the application user's writes on its
// database (every host it may connect from), ends its sessions and proves both: the
// sessions are counted until none is left, and a write as the application user is
// refused. Unfencing grants the writes back.

// legacyAccounts are the user's accounts ('user'@'host') on the legacy server.
func legacyAccounts(ctx context.Context, admin *dbx.DB, user string) ([]string, error) {
	hosts, err := admin.Strings(ctx, "SELECT host FROM mysql.user WHERE user = ?", user)
	if err != nil {
		return nil, fmt.Errorf("legacy: the accounts of %s: %w", user, err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("legacy: no account for user %s (mysql.user)", user)
	}
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = fmt.Sprintf("'%s'@'%s'", strings.ReplaceAll(user, "'", "''"), strings.ReplaceAll(h, "'", "''"))
	}
	return out, nil
}

// legacyWrites reports whether any of the user's accounts may write the database at
// database level (mysql.db).
func legacyWrites(ctx context.Context, admin *dbx.DB, user, database string) (bool, error) {
	var n int
	err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM mysql.db WHERE user = ? AND db = ? AND (insert_priv = 'Y' OR update_priv = 'Y' OR delete_priv = 'Y')`,
		user, database).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("legacy: the privileges of %s on %s: %w", user, database, err)
	}
	return n > 0, nil
}

// fenceLegacy revokes (on) or grants back (off) the legacy application's writes.
func fenceLegacy(ctx context.Context, o *op, on bool) (string, error) {
	app, err := dbx.ParseDSN(o.Site.Legacy.DB)
	if err != nil {
		return "", err
	}
	admin, err := o.db(ctx, o.Site.Legacy.AdminDB, "legacy admin")
	if err != nil {
		return "", err
	}
	accounts, err := legacyAccounts(ctx, admin, app.User)
	if err != nil {
		return "", err
	}
	writes, err := legacyWrites(ctx, admin, app.User, app.Database)
	if err != nil {
		return "", err
	}
	db := admin.Dialect.QuoteIdent(app.Database)
	if !on {
		if writes {
			return fmt.Sprintf("user %s may write %s (it was not fenced)", app.User, app.Database), nil
		}
		o.changed()
		for _, a := range accounts {
			if _, err := admin.ExecContext(ctx, fmt.Sprintf("GRANT INSERT, UPDATE, DELETE ON %s.* TO %s", db, a)); err != nil {
				return "", fmt.Errorf("legacy: give %s its writes back: %w", a, err)
			}
		}
		return fmt.Sprintf("user %s may write %s again", app.User, app.Database), nil
	}
	note := "was fenced already"
	if writes {
		o.changed()
		note = "writes revoked"
		for _, a := range accounts {
			if _, err := admin.ExecContext(ctx, fmt.Sprintf("REVOKE INSERT, UPDATE, DELETE ON %s.* FROM %s", db, a)); err != nil && !isNoSuchGrant(err) {
				return "", fmt.Errorf("legacy: revoke the writes of %s: %w", a, err)
			}
		}
	}
	n, err := endLegacySessions(ctx, admin, app.User)
	if err != nil {
		return "", err
	}
	if err := proveLegacyFence(ctx, o); err != nil {
		return "", err
	}
	return fmt.Sprintf("user %s on %s: %s, %d sessions ended, a write as %s refused", app.User, app.Database, note, n, app.User), nil
}

func isNoSuchGrant(err error) bool { return strings.Contains(err.Error(), "1141") }

// endLegacySessions kills the user's connections and waits until none is left.
func endLegacySessions(ctx context.Context, admin *dbx.DB, user string) (int, error) {
	ended := 0
	for deadline := time.Now().Add(5 * time.Second); ; {
		ids, err := admin.Strings(ctx, "SELECT CAST(id AS CHAR) FROM information_schema.processlist WHERE user = ?", user)
		if err != nil {
			return ended, fmt.Errorf("legacy: the sessions of %s: %w", user, err)
		}
		if len(ids) == 0 {
			return ended, nil
		}
		for _, id := range ids {
			if _, err := admin.ExecContext(ctx, "KILL CONNECTION "+id); err == nil {
				ended++
			}
		}
		if time.Now().After(deadline) {
			return ended, fmt.Errorf("legacy: %d sessions of %s survive being ended: end them by hand (KILL CONNECTION) and run the command again", len(ids), user)
		}
		select {
		case <-ctx.Done():
			return ended, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// proveLegacyFence connects as the application and tries a write that would change
// nothing: the server must refuse it for lack of the privilege.
func proveLegacyFence(ctx context.Context, o *op) error {
	db, err := dbx.Open(ctx, o.Site.Legacy.DB, dbx.Options{AppName: "xckit-fence-proof", ConnectTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("legacy: connect as the application to prove the fence: %w", err)
	}
	defer db.Close()
	tables, err := cdc.Tables(ctx, db, o.Site.CDC.Tables)
	if err != nil || len(tables) == 0 {
		return fmt.Errorf("legacy: list the tables to prove the fence: %v", err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE 1 = 0", db.Dialect.QuoteIdent(tables[0])))
	if err == nil {
		return fmt.Errorf("legacy: the application's user may still write %s after the fence (its privileges are granted globally or per table?): "+
			"grant it writes on the database only (GRANT ... ON db.*), then run the cutover again", tables[0])
	}
	if !strings.Contains(err.Error(), "1142") && !strings.Contains(strings.ToLower(err.Error()), "denied") {
		return fmt.Errorf("legacy: proving the fence: %w", err)
	}
	return nil
}

// legacyFencePos reads the legacy binary-log position after the fence: every write
// the legacy application made is before it.
func legacyFencePos(ctx context.Context, o *op) (string, error) {
	src, err := o.db(ctx, o.Site.Legacy.BinlogSource(), "legacy binary log")
	if err != nil {
		return "", err
	}
	pos, _, err := src.BinlogStatus(ctx)
	if err != nil {
		return "", err
	}
	o.fence, o.rep.FenceLSN = pos.String(), pos.String()
	lag := ""
	if gauss, err := o.db(ctx, o.Site.New.AppAdminDB(), "new side admin"); err == nil {
		if st, err := cdc.GetStatus(ctx, src, gauss, o.Site.CDC.ForwardSlot); err == nil {
			o.rep.ForwardLag = fmt.Sprintf("%d bytes, %.1f s", st.LagBytes, st.LagSeconds)
			lag = "; forward lag at the fence " + o.rep.ForwardLag
		}
	}
	return "legacy fence at " + pos.String() + lag, nil
}

// waitForward waits until forward CDC has applied everything before the legacy fence
// (starting it when it is not running).
func waitForward(ctx context.Context, o *op, budget time.Duration) (string, error) {
	if o.fence == "" {
		if _, err := legacyFencePos(ctx, o); err != nil {
			return "", err
		}
	}
	lsn, err := cdc.ParsePosition(o.fence)
	if err != nil {
		return "", fmt.Errorf("legacy fence position: %w", err)
	}
	gauss, err := o.db(ctx, o.Site.New.AppAdminDB(), "new side admin")
	if err != nil {
		return "", err
	}
	note := ""
	if livePid(ForwardPidFile(o.Site)) == 0 {
		d, err := startStream(ctx, o, forwardStream(o.Site))
		if err != nil {
			return "", fmt.Errorf("forward cdc run was not running and could not be started: %w", err)
		}
		note = "; forward cdc run was not running: started it (" + d + ")"
	}
	start := time.Now()
	if err := cdc.WaitApplied(ctx, gauss, o.Site.CDC.ForwardSlot, lsn, budget); err != nil {
		return "", err
	}
	return fmt.Sprintf("openGauss has everything before %s (waited %.2fs)%s", o.fence, time.Since(start).Seconds(), note), nil
}

// forwardGate checks, before the window, that forward CDC follows and is close
// enough for the drain to be short.
func forwardGate(ctx context.Context, o *op) (string, error) {
	src, err := o.db(ctx, o.Site.Legacy.BinlogSource(), "legacy binary log")
	if err != nil {
		return "", err
	}
	gauss, err := o.db(ctx, o.Site.New.AppAdminDB(), "new side admin")
	if err != nil {
		return "", err
	}
	if _, err := o.db(ctx, o.Site.Legacy.AdminDB, "legacy admin"); err != nil {
		return "", err
	}
	if left, err := cdc.UnfinishedCopy(ctx, gauss, o.Site.CDC.ForwardSlot); err != nil {
		return "", err
	} else if left != "" {
		return "", fmt.Errorf("the online copy of %s has not finished (tables %s): run xckit cutover prepare first", o.Site.CDC.ForwardSlot, left)
	}
	st, err := cdc.GetStatus(ctx, src, gauss, o.Site.CDC.ForwardSlot)
	if err != nil {
		if errors.Is(err, cdc.ErrNotInitialised) || strings.Contains(err.Error(), "no checkpoint") {
			return "", fmt.Errorf("no forward stream %s on openGauss: run xckit cutover prepare (online copy, then forward CDC) first: %w", o.Site.CDC.ForwardSlot, err)
		}
		return "", err
	}
	if st.CatchUpLSN != "" {
		return "", fmt.Errorf("forward CDC has not caught up with its online copy yet (consistent from %s, at %s): wait, then run the cutover", st.CatchUpLSN, st.CaughtUpLSN)
	}
	if warnings := cdc.Judge(st, o.Profile); len(warnings) > 0 {
		return "", fmt.Errorf("forward CDC is behind: %s", strings.Join(warnings, "; "))
	}
	running := "running"
	if livePid(ForwardPidFile(o.Site)) == 0 {
		running = "NOT running (the window starts it)"
	}
	return fmt.Sprintf("forward CDC %s %s, applied %s, lag %d bytes / %.1f s", st.Slot, running, st.CaughtUpLSN, st.LagBytes, st.LagSeconds), nil
}
