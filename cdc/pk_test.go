package cdc_test

import (
	"context"
	"slices"
	"testing"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// A CDC user with SELECT only (the site's cdc_source) reads the primary keys, in key
// order: information_schema.table_constraints hides tables it neither owns nor holds a
// privilege other than SELECT on (openGauss and PostgreSQL alike), so the keys come
// from pg_constraint with SQL openGauss's 9.2 base accepts.
func TestPrimaryKeyForASelectOnlyUser(t *testing.T) {
	p := newPair(t, "legacy")
	ctx := context.Background()
	execSQL(t, p.src,
		"CREATE TABLE pk_two (b INT NOT NULL, a INT NOT NULL, v TEXT, PRIMARY KEY (b, a))",
		"DROP ROLE IF EXISTS xct_reader",
		"CREATE ROLE xct_reader LOGIN PASSWORD 'Reader-pw-0123'",
		"GRANT SELECT ON pk_two TO xct_reader")
	t.Cleanup(func() { p.src.Exec("DROP OWNED BY xct_reader"); p.src.Exec("DROP ROLE IF EXISTS xct_reader") })
	d, _ := dbx.ParseDSN(p.srcDSN)
	d.User, d.Password = "xct_reader", "Reader-pw-0123"
	reader, err := dbx.OpenDSN(ctx, d, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	pk, err := cdc.PrimaryKey(ctx, reader, "pk_two")
	if err != nil || !slices.Equal(pk, []string{"b", "a"}) {
		t.Fatalf("primary key as a SELECT-only user: %v %v, want [b a]", pk, err)
	}
	if _, err := cdc.PrimaryKey(ctx, reader, "no_such_table"); err == nil {
		t.Error("a missing table must be an error")
	}
}
