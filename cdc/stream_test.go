package cdc_test

import (
	"context"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// With nothing to replicate while another database writes, the stream still moves
// the slot (to the walsender's position from a keepalive, recorded on legacy first):
// the WAL the slot holds stays bounded. Changes after that still arrive, once.
func TestStreamIdleMovesTheSlot(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.src, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))")
	execSQL(t, p.dst, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))")
	slot := slotName(t)
	if _, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	r := startPipelineWith(t, p, slot, labPlugin, cdc.ReaderStream)
	execSQL(t, p.src, "INSERT INTO notes VALUES (1, 'one')")
	waitCaughtUp(t, p, slot, r)

	env := labtest.Ensure(t)
	other, err := dbx.Open(context.Background(), labtest.FreshDatabase(t, env, labtest.Gauss, labtest.DatabaseName("idle", t)), dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	execSQL(t, other, "CREATE TABLE filler (id BIGINT PRIMARY KEY, pad TEXT)",
		"INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
	after, err := cdc.CurrentLSN(context.Background(), p.src)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := cdc.GetStatus(context.Background(), p.src, p.dst, slot)
		if err != nil {
			t.Fatal(err)
		}
		conf, _ := cdc.ParseLSN(st.ConfirmedLSN)
		if conf >= after {
			t.Logf("slot confirmed %s, past the other database's writes ending at %s; caught up at %s", conf, after, st.CaughtUpLSN)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot stays at %s while the source moved to %s (status %+v)", conf, after, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	execSQL(t, p.src, "INSERT INTO notes VALUES (2, 'two')", "UPDATE notes SET body = 'uno' WHERE id = 1")
	waitCaughtUp(t, p, slot, r)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil || !rep.Equal() || rep.Tables[0].SourceRows != 2 {
		t.Errorf("verify: %+v %v", rep.Tables, err)
	}
}
