package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Event kinds.
const (
	Started  = "started"
	Finished = "finished"
	Failed   = "failed"
	Reset    = "reset"  // a new run begins (after uninstall, or --force)
	Begin    = "begin"  // a command started (a fresh run or a --resume of one)
	Undone   = "undone" // an abort restored what the step had done: it is not done any more
)

// Entry is one line of the journal.
type Entry struct {
	Time    time.Time `json:"time"`
	Step    string    `json:"step"`
	Event   string    `json:"event"`
	Error   string    `json:"error,omitempty"`
	Changes int       `json:"changes,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
	Note    string    `json:"note,omitempty"` // on a begin entry: how the command was run
}

// Journal appends to a file, one JSON line per entry, fsynced after each.
type Journal struct {
	path string
	f    *os.File
}

// Open opens (creating) the journal at path.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// A crash may have torn the last line: end it, so the next entry stands alone.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			f.Write([]byte("\n"))
		}
	}
	return &Journal{path: path, f: f}, nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// Append writes one entry and fsyncs it before returning.
func (j *Journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(e)
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", j.path, err)
	}
	return nil
}

// State is what a journal says about each step since the last reset.
type State struct {
	Done    map[string]bool   // finished
	Changed map[string]bool   // finished and changed something (Changes > 0)
	Failed  map[string]string // failed, with the error
	Dirty   string            // a step that started and did not finish ("" if none)
	Entries []Entry
	// SinceReset are the entries after the last reset: the current run and the
	// --resume runs that continued it.
	SinceReset []Entry
}

// Read replays a journal; a missing file is an empty state. A torn last line (a
// crash while writing) is ignored: its step then counts as started, not finished.
func Read(path string) (State, error) {
	st := State{Done: map[string]bool{}, Changed: map[string]bool{}, Failed: map[string]string{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	open := map[string]bool{}
	var last string
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		st.Entries = append(st.Entries, e)
		st.SinceReset = append(st.SinceReset, e)
		switch e.Event {
		case Reset:
			st = State{Done: map[string]bool{}, Changed: map[string]bool{}, Failed: map[string]string{}, Entries: st.Entries}
			open = map[string]bool{}
		case Started:
			open[e.Step] = true
			delete(st.Failed, e.Step)
			last = e.Step
		case Finished:
			delete(open, e.Step)
			st.Done[e.Step] = true
			st.Changed[e.Step] = e.Changes > 0
		case Failed:
			delete(open, e.Step)
			st.Failed[e.Step] = e.Error
		case Undone:
			delete(st.Done, e.Step)
			delete(st.Changed, e.Step)
		}
	}
	if open[last] {
		st.Dirty = last
	} else {
		for s := range open {
			st.Dirty = s
		}
	}
	return st, sc.Err()
}
