package dbx_test

import (
	"context"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

func TestLockIsExclusiveAcrossSessions(t *testing.T) {
	env := labtest.Ensure(t)
	for _, c := range []struct{ name, dsn string }{
		{"postgres", env.GaussDSN},
		{"mariadb", env.LegacyDSN},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := dbx.Open(ctx, c.dsn, dbx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			name := "xckit_lock_test_" + c.name
			release, ok, err := db.Lock(ctx, name, 0)
			if err != nil || !ok {
				t.Fatalf("first lock: ok=%v err=%v", ok, err)
			}
			if _, ok, err := db.Lock(ctx, name, 0); err != nil || ok {
				t.Fatalf("second session took a held lock without waiting: ok=%v err=%v", ok, err)
			}
			if c.name == "mariadb" { // GET_LOCK's own timeout: a waiting taker gives up
				if _, ok, err := db.Lock(ctx, name, time.Second); err != nil || ok {
					t.Fatalf("waiting taker: ok=%v err=%v, want a timeout", ok, err)
				}
			}
			release()
			again, ok, err := db.Lock(ctx, name, time.Second)
			if err != nil || !ok {
				t.Fatalf("lock after release: ok=%v err=%v", ok, err)
			}
			again()
		})
	}
}
