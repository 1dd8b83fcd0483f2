package journal

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "install.journal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{{Step: "a", Event: Started}, {Step: "a", Event: Finished, Changes: 2}, {Step: "b", Event: Started},
		{Step: "b", Event: Failed, Error: "boom"}, {Step: "b", Event: Started}, {Step: "b", Event: Finished}, {Step: "c", Event: Started}} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A torn line at the end, as a crash during a write leaves it.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":"c","ev`)
	f.Close()
	st, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done["a"] || !st.Done["b"] || st.Done["c"] || st.Dirty != "c" || len(st.Failed) != 0 {
		t.Errorf("state: %+v", st)
	}
	j, _ = Open(path)
	j.Append(Entry{Step: "*", Event: Reset})
	j.Close()
	st, _ = Read(path)
	if len(st.Done) != 0 || st.Dirty != "" {
		t.Errorf("after reset: %+v", st)
	}
	if st, err := Read(filepath.Join(t.TempDir(), "none")); err != nil || len(st.Done) != 0 {
		t.Errorf("missing journal: %+v %v", st, err)
	}
}

// Changes mark a step as changed; an undo takes a step out of Done again; the entries
// since the last reset are the runs a --resume continues.
func TestChangedUndoneSinceReset(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rollback.journal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, e := range []Entry{{Step: "old", Event: Finished}, {Step: "*", Event: Reset}, {Step: "*", Event: Begin},
		{Step: "drain", Event: Started}, {Step: "drain", Event: Finished, Changes: 1},
		{Step: "stop", Event: Started}, {Step: "stop", Event: Finished},
		{Step: "wait", Event: Started}, {Step: "wait", Event: Failed, Error: "late"}, {Step: "drain", Event: Undone}} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done["drain"] || st.Changed["drain"] || !st.Done["stop"] || st.Changed["stop"] || st.Done["old"] {
		t.Errorf("done %v changed %v", st.Done, st.Changed)
	}
	if len(st.SinceReset) != 8 || st.SinceReset[0].Event != Begin || len(st.Entries) != 10 {
		t.Errorf("since reset: %d entries (first %+v), all %d", len(st.SinceReset), st.SinceReset[0], len(st.Entries))
	}
}
