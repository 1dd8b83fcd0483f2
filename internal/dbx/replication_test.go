package dbx

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestStartLogicalSQL(t *testing.T) {
	got := StartLogicalSQL("xckit", 0x1_2B2A0F28, []string{"include-xids", "true", "skip-empty-xacts", "it's"})
	want := `START_REPLICATION SLOT "xckit" LOGICAL 1/2B2A0F28 ("include-xids" 'true', "skip-empty-xacts" 'it''s')`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := StartLogicalSQL("s", 0, nil); got != `START_REPLICATION SLOT "s" LOGICAL 0/0` {
		t.Errorf("no options: %s", got)
	}
}

// The keepalive and status update as each server lays them out: PostgreSQL's
// protocol documentation (network order), openGauss's walprotocol.h structs copied
// in host order (WalSndKeepalive, ProcessStandbyReplyMessage).
func TestReplicationMessages(t *testing.T) {
	og, pg := Dialect{Engine: OpenGauss, Major: 5}, Dialect{Engine: PostgreSQL, Major: 15}
	const pos = 0x0000_0001_2B2A_0F28
	ogKeep := make([]byte, 33)
	ogKeep[0] = 'k'
	binary.LittleEndian.PutUint64(ogKeep[1:], pos)
	ogKeep[25] = 1 // replyRequested, after walEnd, peer_role, peer_state, sendTime
	pgKeep := make([]byte, 18)
	pgKeep[0] = 'k'
	binary.BigEndian.PutUint64(pgKeep[1:], pos)
	pgKeep[17] = 1
	for _, c := range []struct {
		name  string
		d     Dialect
		msg   []byte
		end   uint64
		reply bool
		bad   bool
	}{
		{"openGauss", og, ogKeep, pos, true, false},
		{"openGauss, no reply", og, append(append([]byte{}, ogKeep[:25]...), make([]byte, 8)...), pos, false, false},
		{"PostgreSQL", pg, pgKeep, pos, true, false},
		{"PostgreSQL's keepalive on openGauss", og, pgKeep, 0, false, true},
		{"short", pg, pgKeep[:9], 0, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			end, reply, err := c.d.keepalive(c.msg)
			if (err != nil) != c.bad || end != c.end || reply != c.reply {
				t.Errorf("keepalive: %#x %v %v", end, reply, err)
			}
		})
	}
	at := pgEpoch.Add(90 * time.Second)
	b := og.statusUpdate(pos, at, true)
	if len(b) != OpenGaussStatusLen || b[0] != 'r' || binary.LittleEndian.Uint64(b[17:]) != pos || // flush
		binary.LittleEndian.Uint64(b[49:]) != 90_000_000 || b[57] != 1 {
		t.Errorf("openGauss status update: % x", b)
	}
	b = pg.statusUpdate(pos, at, false)
	if len(b) != 34 || b[0] != 'r' || binary.BigEndian.Uint64(b[9:]) != pos || binary.BigEndian.Uint64(b[25:]) != 90_000_000 || b[33] != 0 {
		t.Errorf("PostgreSQL status update: % x", b)
	}
}
