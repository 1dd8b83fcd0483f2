package cutover

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// The row counts run alongside the compare; counts that differ while the compare's
// repair removes rows are counted again, and counts that still differ stop the step.
func TestWithCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: the lab's legacy database and gauss")
	}
	env := labtest.Ensure(t)
	ctx := context.Background()
	name := labtest.DatabaseName("counts", t)
	open := func(engine string) *dbx.DB {
		db, err := dbx.Open(ctx, labtest.FreshDatabase(t, env, engine, name), dbx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	legacy, gauss := open(labtest.Legacy), open(labtest.Gauss)
	for _, db := range []*dbx.DB{legacy, gauss} {
		if _, err := db.ExecContext(ctx, "CREATE TABLE acct (id BIGINT PRIMARY KEY, owner VARCHAR(20))"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO acct VALUES (1, 'a'), (2, 'b')"); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(db *dbx.DB, q string) func() {
		return func() {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	nothing := func() {}
	for _, tc := range []struct {
		name          string
		since         bool
		before, while func()
		want, err     string
	}{
		{name: "every row: no counts", want: ""},
		{name: "equal", since: true, before: nothing, while: nothing, want: "row counts equal (2 rows, counted alongside in"},
		{name: "repair removes a row meanwhile", since: true, before: exec(gauss, "INSERT INTO acct VALUES (3, 'test')"),
			while: func() { time.Sleep(time.Second); exec(gauss, "DELETE FROM acct WHERE id = 3")() },
			want:  "row counts equal (2 rows, counted again after the compare in"},
		{name: "still different", since: true, before: exec(gauss, "INSERT INTO acct VALUES (4, 'lost')"), while: nothing,
			err: "table acct has 2 rows on MariaDB|but 3 on openGauss|run xckit verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vopts := cdc.VerifyOptions{Source: legacy, Target: gauss, Tables: []string{"acct"}}
			if tc.since {
				vopts.Since = time.Now().Add(-time.Minute)
				tc.before()
			}
			_, got, err := withCounts(ctx, vopts, func() (cdc.VerifyReport, error) {
				if tc.since {
					tc.while()
				}
				return cdc.VerifyReport{}, nil
			})
			if tc.err != "" {
				for _, want := range strings.Split(tc.err, "|") {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("err %v, want %q", err, want)
					}
				}
				return
			}
			if ok := (tc.want == "" && got == "") || (tc.want != "" && strings.HasPrefix(got, "; "+tc.want)); err != nil || !ok {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
