package dbx

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/stdlib"
)

// A cluster: one primary and its streaming standbys, named together in one DSN
// (opengauss://h1:5432,h2:5432/payd?target_session_attrs=read-write). pgx tries the
// hosts in order and, with read-write, keeps the first whose SHOW
// transaction_read_only says off: on an openGauss standby every transaction is
// read-only (StartTransaction in xact.cpp forces XactReadOnly while
// RecoveryInProgress), as on a PostgreSQL hot standby.

// ServedBy is the node of the DSN this database's connections reach now (a cluster
// DSN's primary, after a failover the new one). A node the DSN does not name (a
// proxy's backend) is reported by its address.
func (db *DB) ServedBy(ctx context.Context) (Endpoint, error) {
	first := Endpoint{db.DSN.Host, db.DSN.Port}
	if db.Dialect.Family() != FamilyPostgres || !db.DSN.Cluster() {
		return first, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Endpoint{}, fmt.Errorf("which node: %w", err)
	}
	defer conn.Close()
	var addr net.Addr
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("which node: not a pgx connection")
		}
		addr = c.Conn().PgConn().Conn().RemoteAddr()
		return nil
	}); err != nil {
		return Endpoint{}, err
	}
	return matchEndpoint(db.DSN.Endpoints(), addr), nil
}

// matchEndpoint finds the DSN's node at a connection's remote address: by port, and
// by address where the name resolves (the DSN may name hosts, the socket has IPs).
func matchEndpoint(nodes []Endpoint, addr net.Addr) Endpoint {
	host, portText, err := net.SplitHostPort(addr.String())
	if err != nil {
		return Endpoint{Host: addr.String()}
	}
	port, _ := strconv.Atoi(portText)
	for _, n := range nodes {
		if n.Port != port {
			continue
		}
		if n.Host == host {
			return n
		}
		if ips, err := net.LookupHost(n.Host); err == nil {
			for _, ip := range ips {
				if net.ParseIP(ip).Equal(net.ParseIP(host)) {
					return n
				}
			}
		}
	}
	return Endpoint{Host: host, Port: port}
}

// InRecovery reports whether the server is a standby (pg_is_in_recovery(), on
// openGauss too: xlogfuncs.cpp).
func (db *DB) InRecovery(ctx context.Context) (bool, error) {
	if db.Dialect.Family() != FamilyPostgres {
		return false, nil
	}
	var r bool
	if err := db.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&r); err != nil {
		return false, fmt.Errorf("read the node's role: %w", err)
	}
	return r, nil
}

// Replica is one standby as its primary sees it (pg_stat_replication).
type Replica struct {
	Name      string `json:"application_name"`
	Addr      string `json:"client_addr"`
	State     string `json:"state"`      // streaming, catchup (openGauss: Streaming, Catchup)
	SyncState string `json:"sync_state"` // async, sync, quorum, potential (openGauss capitalises)
	ReplayLSN string `json:"replay_lsn"` // what the standby has applied
}

// ReplicationSQL lists a primary's standbys: (application_name, client_addr, state,
// sync_state, replay position text). openGauss names the positions after the
// receiver (receiver_replay_location; system_views.sql, pg_stat_replication), and
// PostgreSQL 10 and later after the WAL (replay_lsn).
func (d Dialect) ReplicationSQL() string {
	replay := "replay_lsn"
	switch {
	case d.Engine == OpenGauss:
		replay = "receiver_replay_location"
	case d.usesXlogNames():
		replay = "replay_location"
	}
	return fmt.Sprintf("SELECT COALESCE(application_name, ''), COALESCE(client_addr::text, ''), COALESCE(state, ''), COALESCE(sync_state, ''), COALESCE(%s::text, '') FROM pg_stat_replication", replay)
}

// Replicas reads the standbys attached to this (primary) node.
func (db *DB) Replicas(ctx context.Context) ([]Replica, error) {
	rows, err := db.QueryContext(ctx, db.Dialect.ReplicationSQL())
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		if err := rows.Scan(&r.Name, &r.Addr, &r.State, &r.SyncState, &r.ReplayLSN); err != nil {
			return nil, fmt.Errorf("read pg_stat_replication: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReceivedSQL is a standby's last received WAL position, as text (NULL before it
// received any): pg_last_wal_receive_lsn() on PostgreSQL 10 and later,
// pg_last_xlog_receive_location() on openGauss (xlogfuncs.cpp) and 9.x.
func (d Dialect) ReceivedSQL() string {
	if d.usesXlogNames() {
		return "SELECT COALESCE(pg_last_xlog_receive_location()::text, '')"
	}
	return "SELECT COALESCE(pg_last_wal_receive_lsn()::text, '')"
}

// Received is a standby's last received position ("" when none).
func (db *DB) Received(ctx context.Context) (string, error) {
	var s string
	if err := db.QueryRowContext(ctx, db.Dialect.ReceivedSQL()).Scan(&s); err != nil && err != sql.ErrNoRows {
		return "", fmt.Errorf("read the received WAL position: %w", err)
	}
	return s, nil
}
