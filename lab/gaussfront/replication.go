package gaussfront

import (
	"encoding/binary"
	"errors"
	"strings"
)

// A walsender session's CopyData as openGauss lays it out. XLogData ('w') is the
// same on both (walsender.cpp WalSndPrepareWriteHelper: pq_sendint64, network
// order) and passes as it is. The primary keepalive ('k') and the client's status
// update ('r') are raw C structs in the host's byte order on openGauss
// (walsender.cpp WalSndKeepalive: memcpy_s of a PrimaryKeepaliveMessage;
// ProcessStandbyReplyMessage: pq_copymsgbytes into a StandbyReplyMessage;
// walprotocol.h), so the front rewrites PostgreSQL's keepalive into openGauss's and
// reads the client's update as openGauss would, refusing PostgreSQL's shorter one as
// openGauss's pq_copymsgbytes does.

// isReplicationCommand: the walsender's own grammar (repl_gram.y), not SQL.
func isReplicationCommand(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "IDENTIFY_SYSTEM", "START_REPLICATION", "CREATE_REPLICATION_SLOT", "DROP_REPLICATION_SLOT", "TIMELINE_HISTORY", "BASE_BACKUP":
		return true
	}
	return false
}

// keepaliveToOpenGauss turns PostgreSQL's 'k' (walEnd, sendTime in network order,
// replyRequested: 18 bytes) into openGauss's WalSndrMessage copy: walEnd 0-7,
// peer_role 8-11, peer_state 12-15, sendTime 16-23, replyRequested 24, catchup 25,
// uwal_catchup 26, fullSync 27, padding to 32 (little-endian, as on x86 and ARM).
// Anything else passes unchanged.
func keepaliveToOpenGauss(b []byte) []byte {
	if len(b) != 18 || b[0] != 'k' {
		return b
	}
	out := make([]byte, 33)
	out[0] = 'k'
	le := binary.LittleEndian
	le.PutUint64(out[1:], binary.BigEndian.Uint64(b[1:]))
	le.PutUint32(out[9:], 0)  // peer_role: NORMAL_MODE (a primary)
	le.PutUint32(out[13:], 0) // peer_state: UNKNOWN_STATE
	le.PutUint64(out[17:], binary.BigEndian.Uint64(b[9:]))
	out[25] = b[17]
	return out
}

// statusToPostgres reads the client's 'r' as openGauss does (a StandbyReplyMessage of
// 64 bytes: receive, write, flush, apply, applyRead, peer_role, peer_state, sendTime,
// replyRequested, replyFlags; host order) and writes PostgreSQL's (write, flush,
// apply, sendTime in network order, replyRequested). A shorter one is openGauss's
// "insufficient data left in message". Other messages pass unchanged.
func statusToPostgres(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != 'r' {
		return b, nil
	}
	if len(b) < 65 {
		return nil, errors.New("insufficient data left in message")
	}
	le, be := binary.LittleEndian, binary.BigEndian
	out := make([]byte, 34)
	out[0] = 'r'
	be.PutUint64(out[1:], le.Uint64(b[9:]))   // write
	be.PutUint64(out[9:], le.Uint64(b[17:]))  // flush: the logical slot's confirmed position
	be.PutUint64(out[17:], le.Uint64(b[25:])) // apply
	be.PutUint64(out[25:], le.Uint64(b[49:])) // sendTime
	out[33] = b[57]
	return out, nil
}
