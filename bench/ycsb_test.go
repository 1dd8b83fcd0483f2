package bench

import (
	"context"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// TestYCSBWorkloadsOnBothEngines runs go-ycsb's core workloads A to F through the
// xckit binding on the lab's PostgreSQL (the openGauss stand-in) and MariaDB.
func TestYCSBWorkloadsOnBothEngines(t *testing.T) {
	env := labtest.Ensure(t)
	for _, engine := range []string{labtest.Gauss, labtest.Legacy} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db, err := dbx.Open(ctx, labtest.FreshDatabase(t, env, engine, "xckit_ycsb_test"), dbx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			grew := true // the table starts missing: the first prepare loads it
			for _, w := range []string{"a", "b", "c", "d", "e", "f"} {
				y, err := NewYCSB(YCSBOptions{DB: db, Workload: w, Records: 500, Props: map[string]string{"fieldcount": "4"}})
				if err != nil {
					t.Fatal(err)
				}
				// Prepare loads only when the table is missing or a run inserted rows.
				if n, err := y.Prepare(ctx); err != nil || (grew && n != 500) || (!grew && n != 0) {
					t.Fatalf("ycsb.%s prepare: loaded %d rows (table had grown: %v), %v", w, n, grew, err)
				}
				s, err := Run(ctx, y, Options{Concurrency: 4, Duration: time.Second})
				y.Close()
				if err != nil || s.OK < 20 || s.Failed != 0 { // a few ops suffice; the CI machine is busy
					t.Fatalf("ycsb.%s on %s: %v; ok %d failed %d %v", w, engine, err, s.OK, s.Failed, s.Errors)
				}
				var rows int64
				db.QueryRow("SELECT count(*) FROM usertable").Scan(&rows)
				if grew = rows > 500; grew != (w == "d" || w == "e") {
					t.Errorf("ycsb.%s: %d rows after the run (only d and e insert)", w, rows)
				}
			}
		})
	}
}

func TestYCSBBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []YCSBOptions{{Workload: "g", Records: 10}, {Workload: "a"}, {Workload: "a", Records: 10, Props: map[string]string{"recordcount": "5"}}} {
		if _, err := NewYCSB(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, ok := YCSBScenario("ycsb.f"); !ok {
		t.Error("ycsb.f not known")
	}
	if _, ok := YCSBScenario("ycsb.z"); ok {
		t.Error("ycsb.z known")
	}
}
