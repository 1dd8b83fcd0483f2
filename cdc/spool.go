package cdc

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
)

// DefaultSpoolBytes is how much of one transaction's changes a reader holds in
// memory before it writes them to a spool file (Spool.Bytes).
const DefaultSpoolBytes = 64 << 20

// Spool bounds the memory a large source transaction takes: past Bytes of changes
// (counted as their names and values), a reader writes the transaction's changes to a
// file in Dir as they arrive, and the sink reads them back in order while it applies
// them — still in one target transaction with the checkpoint, so still atomic. The
// file is removed once the batch holding it is applied or dropped.
type Spool struct {
	Dir   string // where spool files go; "" is the system's temporary directory
	Bytes int64  // changes held in memory per transaction; 0 is DefaultSpoolBytes, <0 never spools
	// Name goes into the files' names (Run sets the slot): a run removes what a
	// killed run of the same slot left (RemoveStale).
	Name string
	// Spilled counts the transactions written to disk.
	Spilled atomic.Int64
}

func (s *Spool) limit() int64 {
	if s == nil || s.Bytes == 0 {
		return DefaultSpoolBytes
	}
	return s.Bytes
}

func (s *Spool) pattern() string {
	if s == nil || s.Name == "" {
		return "xckit-cdc-txn-*.spool"
	}
	return "xckit-cdc-" + s.Name + "-*.spool"
}

// RemoveStale removes the spool files a killed run of the same Name left; only one
// run of a slot runs at a time (LockSlot), so none of them is in use.
func (s *Spool) RemoveStale() error {
	if s == nil || s.Name == "" {
		return nil
	}
	dir := s.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	files, err := filepath.Glob(filepath.Join(dir, s.pattern()))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("a stale spool file: %w", err)
		}
	}
	return nil
}

// spill is a transaction's changes on disk, written in order with encoding/gob.
type spill struct {
	path string
	f    *os.File
	w    *bufio.Writer
	enc  *gob.Encoder
	n    int
}

// add appends a change to the transaction, moving its changes to a spool file when
// they pass sp's bound.
func (t *Txn) add(sp *Spool, c Change) error {
	if t.spill != nil {
		return t.spill.write(c)
	}
	t.Changes = append(t.Changes, c)
	t.size += changeSize(c)
	if lim := sp.limit(); lim < 0 || t.size <= lim {
		return nil
	}
	dir := ""
	if sp != nil {
		dir = sp.Dir
	}
	f, err := os.CreateTemp(dir, sp.pattern())
	if err != nil {
		return fmt.Errorf("transaction %s is over %d bytes of changes and cannot be spooled to disk: %w (set the spool directory to one with room)", t.XID, sp.limit(), err)
	}
	s := &spill{path: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<20)}
	s.enc = gob.NewEncoder(s.w)
	t.spill = s
	for _, c := range t.Changes {
		if err := s.write(c); err != nil {
			return err
		}
	}
	t.Changes, t.size = nil, 0
	if sp != nil {
		sp.Spilled.Add(1)
	}
	return nil
}

func (s *spill) write(c Change) error {
	if err := s.enc.Encode(&c); err != nil {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	s.n++
	return nil
}

// seal ends the transaction's writing: its spool file, if any, is complete.
func (t *Txn) seal() error {
	if t.spill == nil || t.spill.w == nil {
		return nil
	}
	s := t.spill
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.w, s.f, s.enc = nil, nil, nil
	if err != nil {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	return nil
}

// release removes the transaction's spool file, if any.
func (t Txn) release() {
	if t.spill == nil {
		return
	}
	if t.spill.f != nil {
		t.spill.f.Close()
	}
	os.Remove(t.spill.path)
}

func releaseAll(txns []Txn) {
	for _, t := range txns {
		t.release()
	}
}

// Spooled reports whether the transaction's changes are on disk.
func (t Txn) Spooled() bool { return t.spill != nil }

// Len is the number of the transaction's changes (before any filter).
func (t Txn) Len() int {
	if t.spill != nil {
		return t.spill.n
	}
	return len(t.Changes)
}

// Each calls fn with each change in order (those the filter keeps), read back from
// the spool file when the transaction is on disk.
func (t Txn) Each(fn func(Change) error) error {
	if t.spill == nil {
		for _, c := range t.Changes {
			if t.keep == nil || t.keep(c) {
				if err := fn(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	f, err := os.Open(t.spill.path)
	if err != nil {
		return fmt.Errorf("spool of transaction %s: %w", t.XID, err)
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	for i := 0; i < t.spill.n; i++ {
		var c Change
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("spool %s, change %d of %d: %w", t.spill.path, i+1, t.spill.n, err)
		}
		if t.keep == nil || t.keep(c) {
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeSize is roughly what a change holds in memory.
func changeSize(c Change) int64 {
	n := int64(len(c.Schema) + len(c.Table) + len(c.XID) + 64)
	for _, cols := range [][]Column{c.Columns, c.Key} {
		for _, col := range cols {
			n += int64(len(col.Name) + len(col.Type) + len(col.Text) + 40)
		}
	}
	return n
}
