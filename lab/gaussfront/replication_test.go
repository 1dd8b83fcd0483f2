package gaussfront

import (
	"encoding/binary"
	"strings"
	"testing"
)

// PostgreSQL's keepalive leaves the front in openGauss's layout, and the client's
// status update in openGauss's layout reaches PostgreSQL in its own; PostgreSQL's
// shorter update is refused, as openGauss's walsender refuses it.
func TestReplicationMessages(t *testing.T) {
	k := make([]byte, 18)
	k[0] = 'k'
	binary.BigEndian.PutUint64(k[1:], 0x12B2A0F28)
	binary.BigEndian.PutUint64(k[9:], 777)
	k[17] = 1
	og := keepaliveToOpenGauss(k)
	if len(og) != 33 || binary.LittleEndian.Uint64(og[1:]) != 0x12B2A0F28 || binary.LittleEndian.Uint64(og[17:]) != 777 || og[25] != 1 {
		t.Errorf("keepalive: % x", og)
	}
	if w := []byte("w0123456789abcdef01234567data"); string(keepaliveToOpenGauss(w)) != string(w) {
		t.Error("XLogData must pass unchanged")
	}
	r := make([]byte, 65)
	r[0] = 'r'
	for i := range 5 {
		binary.LittleEndian.PutUint64(r[1+8*i:], uint64(100+i))
	}
	binary.LittleEndian.PutUint64(r[49:], 555)
	r[57] = 1
	pg, err := statusToPostgres(r)
	if err != nil || len(pg) != 34 || binary.BigEndian.Uint64(pg[1:]) != 101 || binary.BigEndian.Uint64(pg[9:]) != 102 ||
		binary.BigEndian.Uint64(pg[17:]) != 103 || binary.BigEndian.Uint64(pg[25:]) != 555 || pg[33] != 1 {
		t.Errorf("status update: % x %v", pg, err)
	}
	if _, err := statusToPostgres(r[:34]); err == nil || !strings.Contains(err.Error(), "insufficient data left in message") {
		t.Errorf("PostgreSQL's status update: %v", err)
	}
	for q, want := range map[string]bool{"START_REPLICATION SLOT s LOGICAL 0/0": true, " identify_system": true, "SELECT 1": false, "": false} {
		if isReplicationCommand(q) != want {
			t.Errorf("isReplicationCommand(%q)", q)
		}
	}
}
