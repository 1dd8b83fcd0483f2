package cdc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/profiles"
)

// RunOptions are a `cdc run`'s.
type RunOptions struct {
	Source, Target *dbx.DB
	Slot           string
	Batch          int // changes per read (default 5000)
	// Reader is how the reverse direction reads its slot: "sql" (a peek, then an
	// advance: what every openGauss has) or "stream" (the streaming replication
	// protocol: StreamReader). "" is "sql".
	Reader      string
	Tables      []string // patterns of the replicated tables (none: all)
	PidFile     string   // written while it runs (xckit cdc stop reads it); "" for none
	MetricsAddr string   // Prometheus metrics on this address; "" for none
	Log         *slog.Logger
	Stats       *Stats // counters (nil: its own)
	// Spool bounds the memory of one large source transaction (nil: DefaultSpoolBytes
	// of changes, then a file in the system's temporary directory).
	Spool *Spool
}

// SetupError is a run that could not start (no slot, no decoder, the slot locked by
// another run, a busy metrics address): nothing was read or applied.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Run replicates the slot's changes from Source to Target until ctx ends: it finds the
// slot's plugin, takes the target's lock on the slot (one run per slot), writes its pid
// file, serves its metrics, and runs the pipeline (see Pipeline.Run).
func Run(ctx context.Context, o RunOptions) error {
	release, err := LockSlot(ctx, o.Target, o.Slot)
	if err != nil {
		return &SetupError{err}
	}
	defer release()
	if o.PidFile != "" {
		if err := proc.WritePIDFile(o.PidFile, os.Getpid()); err != nil {
			return &SetupError{fmt.Errorf("pid file: %w", err)}
		}
		defer os.Remove(o.PidFile)
	}
	if o.Stats == nil {
		o.Stats = NewStats()
	}
	if o.MetricsAddr != "" {
		stop, err := ServeMetrics(o.MetricsAddr, o.Stats, o.Slot)
		if err != nil {
			return &SetupError{err}
		}
		defer stop()
		sctx, stopSampling := context.WithCancel(ctx)
		defer stopSampling()
		go sampleRetained(sctx, o)
	}
	if o.Spool == nil {
		o.Spool = &Spool{}
	}
	o.Spool.Name = o.Slot
	if err := o.Spool.RemoveStale(); err != nil {
		return &SetupError{err}
	}
	reader, err := o.source(ctx)
	if err != nil {
		return &SetupError{err}
	}
	if c, ok := reader.(interface{ Close() }); ok {
		defer c.Close()
	}
	sink := NewSink(o.Target, o.Slot)
	defer sink.Close()
	p := &Pipeline{Reader: reader, Sink: sink, Tables: o.Tables, Log: o.Log, Stats: o.Stats}
	if err := p.Run(ctx); err != nil {
		return fmt.Errorf("cdc run stopped: %w", err)
	}
	return nil
}

// source is the run's reader: the binary log (forward) or the slot (reverse).
func (o RunOptions) source(ctx context.Context) (Source, error) {
	if IsForward(o.Source) {
		if err := CheckBinlog(ctx, o.Source); err != nil {
			return nil, err
		}
		cp, ok, err := NewSink(o.Target, o.Slot).Checkpoint(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("the target has no checkpoint for forward stream %s: run xckit cdc init or xckit cdc copy --online first", o.Slot)
		}
		if left, err := UnfinishedCopy(ctx, o.Target, o.Slot); err != nil {
			return nil, err
		} else if left != "" {
			return nil, fmt.Errorf("the online copy of stream %s has not finished (tables %s): run xckit cdc copy --online again to finish it, then cdc run", o.Slot, left)
		}
		s, err := NewBinlogSource(ctx, o.Source, BinlogSourceOptions{From: cp.LSN, Tables: o.Tables, Batch: o.Batch, ServerID: ServerIDFor(o.Slot), Log: o.Log})
		if err != nil {
			return nil, err
		}
		s.Spool = o.Spool
		return s, nil
	}
	info, ok, err := SlotInfo(ctx, o.Source, o.Slot)
	if err != nil {
		return nil, err
	}
	sink := NewSink(o.Target, o.Slot)
	applied := func(ctx context.Context) (Checkpoint, error) {
		cp, ok, err := sink.Checkpoint(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("the target has no checkpoint for slot %s: run xckit cdc init first", o.Slot)
		}
		return cp, err
	}
	if !ok {
		if _, had, err := sink.Checkpoint(ctx); err != nil {
			return nil, err
		} else if !had {
			return nil, fmt.Errorf("the source has no slot %s: run xckit cdc init first", o.Slot)
		}
		cp, _ := applied(ctx)
		return nil, guardSlot(ctx, o.Source, o.Slot, cp) // a stream whose slot is gone
	}
	dec, err := DecoderFor(info.Plugin)
	if err != nil {
		return nil, err
	}
	switch o.Reader {
	case "", ReaderSQL:
		r := NewSQLReader(o.Source, o.Slot, dec, o.Batch)
		r.Applied, r.Spool = applied, o.Spool
		return r, nil
	case ReaderStream:
		r := NewStreamReader(o.Source, o.Slot, dec, o.Batch)
		r.Applied, r.Spool = applied, o.Spool
		return r, nil
	}
	return nil, fmt.Errorf("reader %q: want %s or %s", o.Reader, ReaderSQL, ReaderStream)
}

// The reverse direction's readers (RunOptions.Reader).
const (
	ReaderSQL    = "sql"
	ReaderStream = "stream"
)

// Judge lists what is wrong with a status against the profile's limits (none:
// healthy): WAL the slot holds back, and lag while bytes are behind.
func Judge(st Status, p *profiles.Profile) []string {
	var out []string
	if lim := p.Database.MaxRetainedWAL; lim > 0 && st.RetainedBytes > lim.Bytes() {
		out = append(out, fmt.Sprintf("the slot retains %s of WAL, more than the profile's %s: the legacy side is behind or cdc run is down", profiles.ByteSize(st.RetainedBytes), lim))
	}
	if lim := p.CDC.MaxLag; lim > 0 && st.LagSeconds > lim.D().Seconds() && st.LagBytes > 0 {
		out = append(out, fmt.Sprintf("lag %.1fs is above the profile's %s", st.LagSeconds, lim))
	}
	return out
}

// RepairAndVerify applies a repair report (from a Verify with Repair) to the target,
// then compares again, plainly (no repair plan, nothing disposable), and returns that
// comparison: equal when the repair made the sides equal.
func RepairAndVerify(ctx context.Context, o VerifyOptions, rep VerifyReport) (VerifyReport, error) {
	if err := ApplyRepair(ctx, o.Target, rep); err != nil {
		return VerifyReport{}, fmt.Errorf("repair: %w", err)
	}
	o.Repair, o.Disposable = false, nil
	after, err := Verify(ctx, o)
	if err != nil {
		return after, fmt.Errorf("verify after the repair: %w", err)
	}
	return after, nil
}

// sampleRetained reads the WAL (or binary log) the source keeps for the stream every
// 15 s, for the metrics, until ctx ends; a failed reading leaves the last one.
func sampleRetained(ctx context.Context, o RunOptions) {
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if st, err := GetStatus(rctx, o.Source, o.Target, o.Slot); err == nil {
			o.Stats.RetainedBytes.Store(st.RetainedBytes)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(15 * time.Second):
		}
	}
}
