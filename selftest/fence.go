package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// fence runs the rollback's fence, with the same SQL, on a scratch role that holds an
// idle session: the role is made read-only, its sessions are ended (on openGauss by
// session, thread pool or not), none that started before the fence survives, the held
// one is gone, and a new session is read-only.
func (r *run) fence(ctx context.Context) (string, error) {
	if r.admin == nil {
		return "", errSkipped
	}
	d := r.admin.Dialect
	b := make([]byte, 8)
	rand.Read(b)
	password := "Xs-" + hex.EncodeToString(b) // openGauss's policy: three kinds, 8 to 32
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if _, err := r.admin.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", r.role, lit)); err != nil {
		return "", fmt.Errorf("create the scratch role %s: %w", r.role, err)
	}
	as := r.appDSN
	as.User, as.Password = r.role, password
	held, err := dbx.OpenDSN(ctx, as, dbx.Options{AppName: "xckit-selftest-held", MaxOpenConns: 1})
	if err != nil {
		return "", fmt.Errorf("a session as %s: %w", r.role, err)
	}
	defer held.Close()
	conn, err := held.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		return "", err
	}

	var at time.Time
	if err := r.admin.QueryRowContext(ctx, "SELECT now()").Scan(&at); err != nil {
		return "", err
	}
	if _, err := r.admin.ExecContext(ctx, fmt.Sprintf("ALTER ROLE %s SET default_transaction_read_only = on", r.role)); err != nil {
		return "", fmt.Errorf("fence %s: %w", r.role, err)
	}
	var ended int
	if err := r.admin.QueryRowContext(ctx, d.EndSessionsSQL(), r.role).Scan(&ended); err != nil {
		return "", fmt.Errorf("end %s's sessions: %s: %w", r.role, d.EndSessionsSQL(), err)
	}
	left := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := r.admin.QueryRowContext(ctx, d.RoleSessionsSQL(), r.role, at).Scan(&left); err != nil {
			return "", err
		}
		if left == 0 {
			break
		}
	}
	if left != 0 {
		return "", fmt.Errorf("%d session(s) of %s from before the fence survive %s: the fence would leak", left, r.role, d.EndSessionsSQL())
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err == nil {
		return "", fmt.Errorf("the session %s held from before the fence still answers", r.role)
	}
	var fenced int
	if err := r.admin.QueryRowContext(ctx, d.RoleFencedSQL(), r.role).Scan(&fenced); err != nil || fenced == 0 {
		return "", fmt.Errorf("the fence is not seen by %s (%d, %v)", d.RoleFencedSQL(), fenced, err)
	}
	// On a cluster DSN the fenced role reaches no node at all with
	// target_session_attrs=read-write (its sessions start read-only: that is the fence
	// working); the fresh session goes to the primary by itself.
	if as.Cluster() {
		at, err := r.admin.ServedBy(ctx)
		if err != nil {
			return "", err
		}
		as = as.Node(at)
	}
	fresh, err := dbx.OpenDSN(ctx, as, dbx.Options{AppName: "xckit-selftest-fresh", MaxOpenConns: 1})
	if err != nil {
		return "", fmt.Errorf("a new session as %s: %w", r.role, err)
	}
	defer fresh.Close()
	ro, err := fresh.Setting(ctx, "default_transaction_read_only")
	if err != nil || ro != "on" {
		return "", fmt.Errorf("a new session of the fenced %s has default_transaction_read_only=%q (%v)", r.role, ro, err)
	}
	how := "pg_terminate_backend"
	if strings.Contains(d.EndSessionsSQL(), "pg_terminate_session") {
		how = "pg_terminate_session"
	}
	return fmt.Sprintf("ended %d session(s) of %s with %s; none from before the fence left; a new session is read-only", ended, r.role, how), nil
}
