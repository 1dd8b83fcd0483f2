package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

// PrepareReport is what xckit cutover prepare did.
type PrepareReport struct {
	Copy    *cdc.OnlineCopyReport `json:"copy,omitempty"` // nil: the stream existed (no copy needed)
	Started string                `json:"forward_run"`
	Status  cdc.Status            `json:"status"`
}

// PrepareOptions drive Prepare.
type PrepareOptions struct {
	Site             *Site
	XckitBin         string
	MaxRowsPerSecond int
	Progress         func(cdc.TableProgress)
	Out              io.Writer
	Log              *slog.Logger
}

// Prepare sets forward CDC up while the legacy system keeps serving, hours or days
// before the window: an online copy of the legacy tables into openGauss (unless the
// forward stream exists already, or resuming one that was interrupted), then forward
// cdc run in the background. Running it again changes nothing that is in place.
func Prepare(ctx context.Context, po PrepareOptions) (PrepareReport, error) {
	var rep PrepareReport
	if !po.Site.CDC.Forward {
		return rep, errors.New("the site does not use forward CDC: set cdc.forward: true (and legacy.admin_db, legacy.cdc_target) in site.yaml")
	}
	if po.XckitBin == "" {
		po.XckitBin, _ = os.Executable()
	}
	o := &op{Options: Options{Site: po.Site, XckitBin: po.XckitBin, Out: po.Out, Log: po.Log}, dbs: map[string]*dbx.DB{}, rep: &Report{}}
	defer o.closeDBs()
	src, err := o.db(ctx, po.Site.Legacy.BinlogSource(), "legacy binary log")
	if err != nil {
		return rep, err
	}
	gauss, err := o.db(ctx, po.Site.New.AppAdminDB(), "new side admin")
	if err != nil {
		return rep, err
	}
	slot := po.Site.CDC.ForwardSlot
	if livePid(ForwardPidFile(po.Site)) == 0 {
		left, err := cdc.UnfinishedCopy(ctx, gauss, slot)
		if err != nil {
			return rep, err
		}
		_, have, err := cdc.NewSink(gauss, slot).Checkpoint(ctx)
		if err != nil && !errors.Is(err, cdc.ErrNotInitialised) {
			return rep, err
		}
		if !have || left != "" {
			if left == "" {
				if err := removeTestTraffic(ctx, gauss, po.Site.CDC.Tables); err != nil {
					return rep, err
				}
			}
			cr, err := cdc.OnlineCopy(ctx, cdc.OnlineCopyOptions{From: src, To: gauss, Slot: slot, Tables: po.Site.CDC.Tables,
				MaxRowsPerSecond: po.MaxRowsPerSecond, Progress: po.Progress, Log: po.Log})
			if err != nil {
				return rep, err
			}
			rep.Copy = &cr
		}
	}
	if rep.Started, err = startStream(ctx, o, forwardStream(po.Site)); err != nil {
		return rep, err
	}
	// The run needs a moment to read its first round.
	time.Sleep(200 * time.Millisecond)
	rep.Status, err = cdc.GetStatus(ctx, src, gauss, slot)
	return rep, err
}

// removeTestTraffic deletes, before a first online copy, the rows the kit's own test
// traffic left on openGauss (install smoke tests): the copy starts from empty tables,
// and anything else stops it, named.
func removeTestTraffic(ctx context.Context, db *dbx.DB, patterns []string) error {
	tables, err := cdc.Tables(ctx, db, patterns)
	if err != nil {
		return err
	}
	like := platform.TestTag + "%"
	// Children first: a failing delete (a parent still referenced) is tried again
	// after the others.
	for pass := 0; pass < 3; pass++ {
		var failed []error
		for _, t := range tables {
			cols, err := db.Strings(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", t)
			if err != nil {
				return err
			}
			for _, c := range []string{"req_id", "customer"} {
				if !contains(cols, c) {
					continue
				}
				q := fmt.Sprintf("DELETE FROM %s WHERE %s LIKE $1", db.Dialect.QuoteIdent(t), db.Dialect.QuoteIdent(c))
				if _, err := db.ExecContext(ctx, q, like); err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", t, err))
				}
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if pass == 2 {
			return fmt.Errorf("remove the kit's test rows from openGauss: %w", errors.Join(failed...))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
