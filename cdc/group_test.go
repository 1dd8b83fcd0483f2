package cdc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/labtest"
)

// One batch into MariaDB whose changes alternate between tables linked by a foreign
// key, a parent made after a child that refers to an older one, a child moved to the
// new parent before the old one goes, a key deleted and made again, and a table with
// a second unique index whose values change places: applied table by table where
// that is safe (the tables whose only unique index is the key) and in order where it
// is not, the target ends equal to the source, its foreign keys whole.
func TestBatchAppliedByTable(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	for _, db := range []struct {
		q   func(...string)
		ddl []string
	}{
		{func(s ...string) { execSQL(t, p.src, s...) }, []string{
			"CREATE TABLE parent (id BIGINT PRIMARY KEY, name VARCHAR(20))",
			"CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES parent (id), v INTEGER)",
			"CREATE TABLE coded (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE)"}},
		{func(s ...string) { execSQL(t, p.dst, s...) }, []string{
			"CREATE TABLE parent (id BIGINT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB",
			"CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL, v INT, FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB",
			"CREATE TABLE coded (id BIGINT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE) ENGINE=InnoDB"}},
	} {
		db.q(db.ddl...)
		db.q("INSERT INTO parent VALUES (1, 'old')", "INSERT INTO child VALUES (10, 1, 0)", "INSERT INTO coded VALUES (1, 'X'), (2, 'Y')")
	}
	slot := slotName(t)
	if _, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, p.src,
		"INSERT INTO child VALUES (11, 1, 1)",
		"INSERT INTO parent VALUES (2, 'new')",
		"INSERT INTO child VALUES (12, 2, 2)",
		"UPDATE child SET v = 100 WHERE id = 10",
		"UPDATE child SET v = 101 WHERE id = 10",
		"DELETE FROM child WHERE id = 12",
		"INSERT INTO child VALUES (12, 2, 22)",
		"UPDATE child SET parent_id = 2 WHERE id IN (10, 11)",
		"DELETE FROM parent WHERE id = 1",
		"UPDATE parent SET name = 'renamed' WHERE id = 2",
	)
	dec, _ := cdc.DecoderFor(labPlugin)
	sink := cdc.NewSink(p.dst, slot)
	defer sink.Close()
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(p.src, slot, dec, 1000), Sink: sink} // everything in its first read
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan error, 1), stop: func() error { cancel(); return nil }}
	go func() { r.done <- pl.Run(ctx) }()
	waitCaughtUp(t, p, slot, r)
	// Applied as sent, table by table: not replayed statement by statement.
	if n := sink.Replayed(); n != 0 {
		t.Errorf("%d batches were replayed statement by statement", n)
	}
	// The unique codes change places, one step at a time (a batch in order: coded
	// has a unique index besides its key).
	execSQL(t, p.src, "UPDATE coded SET code = 'Z' WHERE id = 1", "UPDATE coded SET code = 'X' WHERE id = 2",
		"UPDATE coded SET code = 'Y' WHERE id = 1", "UPDATE parent SET name = 'again' WHERE id = 2")
	waitCaughtUp(t, p, slot, r)
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() {
		t.Errorf("verify: %+v", rep.Tables)
	}
	var orphans int
	if err := p.dst.QueryRow("SELECT COUNT(*) FROM child c LEFT JOIN parent p ON p.id = c.parent_id WHERE p.id IS NULL").Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d children without a parent on the target (%v)", orphans, err)
	}
	var fk int
	if err := p.dst.QueryRow("SELECT @@foreign_key_checks").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("the target's ordinary sessions: foreign_key_checks %d (%v)", fk, err)
	}
	var codes []string
	rows, err := p.dst.Query("SELECT code FROM coded ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		rows.Scan(&c)
		codes = append(codes, c)
	}
	if got := strings.Join(codes, ","); got != "Y,X" {
		t.Errorf("codes on the target: %s", got)
	}
}
