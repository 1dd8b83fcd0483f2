package cutover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// withCounts runs compare (a verify) and, when the verify compares only the rows
// changed lately (vopts.Since), every table's row count on both sides at the same
// time: the sides are fenced, so the counts hold still, and neither waits for the
// other inside the window. A difference in the counts is counted again after the
// compare, whose repair may have removed the kit's test traffic meanwhile.
func withCounts(ctx context.Context, vopts cdc.VerifyOptions, compare func() (cdc.VerifyReport, error)) (cdc.VerifyReport, string, error) {
	if vopts.Since.IsZero() {
		vr, err := compare()
		return vr, "", err
	}
	tables, err := cdc.CheckTables(ctx, vopts.Source, vopts.Target, vopts.Tables)
	if err != nil {
		return cdc.VerifyReport{}, "", err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type counted struct {
		total   int64
		err     error
		seconds float64
	}
	done := make(chan counted, 1)
	began := time.Now()
	go func() {
		total, err := countTables(cctx, vopts.Source, vopts.Target, tables)
		done <- counted{total, err, time.Since(began).Seconds()}
	}()
	vr, err := compare()
	if err != nil {
		cancel()
		<-done
		return vr, "", err
	}
	c := <-done
	how := "alongside"
	if _, ok := errors.AsType[countMismatch](c.err); ok {
		began = time.Now()
		c.total, c.err = countTables(ctx, vopts.Source, vopts.Target, tables)
		c.seconds, how = time.Since(began).Seconds(), "again after the compare"
	}
	if c.err != nil {
		return vr, "", c.err
	}
	return vr, fmt.Sprintf("; row counts equal (%d rows, counted %s in %.1fs)", c.total, how, c.seconds), nil
}

// countMismatch is a table whose row counts differ between the sides.
type countMismatch struct {
	table  string
	counts [2]int64
	sides  [2]string
}

func (e countMismatch) Error() string {
	return fmt.Sprintf("table %s has %d rows on %s but %d on %s: the CDC missed or doubled rows older than the verify period (cdc.verify_since); "+
		"run xckit verify (every row) to find them", e.table, e.counts[0], e.sides[0], e.counts[1], e.sides[1])
}

// countTables counts every table's rows on both sides (each table counted on both at
// once) and returns the total, or the first table whose counts differ.
func countTables(ctx context.Context, a, b *dbx.DB, tables []string) (int64, error) {
	var total int64
	for _, t := range tables {
		var counts [2]int64
		var errs [2]error
		var wg sync.WaitGroup
		for i, db := range []*dbx.DB{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db.Dialect.QuoteIdent(t)).Scan(&counts[i])
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return 0, fmt.Errorf("count %s: %w", t, err)
		}
		if counts[0] != counts[1] {
			return 0, countMismatch{table: t, counts: counts, sides: [2]string{a.Dialect.Name(), b.Dialect.Name()}}
		}
		total += counts[0]
	}
	return total, nil
}
