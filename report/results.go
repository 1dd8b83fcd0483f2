package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/atomicfile"
	"github.com/xckit/xckit/profiles"
)

// Schema is the version of results.json.
const Schema = 1

// Results is results.json.
type Results struct {
	Schema   int                `json:"schema"`
	Kind     string             `json:"kind"` // acceptance
	Started  time.Time          `json:"started"`
	Finished time.Time          `json:"finished"`
	Command  string             `json:"command"`
	Profile  string             `json:"profile"`
	Target   string             `json:"target"`
	Host     checks.Fingerprint `json:"host"`
	System   map[string]any     `json:"system_under_test,omitempty"` // what the target's /readyz said
	Database map[string]string  `json:"database,omitempty"`          // engine, version and key settings, when --db was given
	XckitVer string             `json:"xckit_version"`
	Cases    []Case             `json:"cases"`
	// Repeat is how many times each case ran (certification mode, bench acceptance
	// --repeat); Spreads judge how much the resource figures varied between the runs.
	Repeat  int            `json:"repeat,omitempty"`
	Spreads []bench.Spread `json:"spreads,omitempty"`
	Pass    bool           `json:"pass"`
}

// Case is one acceptance case's run and verdict.
type Case struct {
	Case    profiles.Case  `json:"case"`
	Run     int            `json:"run,omitempty"` // 1..Repeat in certification mode
	Summary *bench.Summary `json:"summary"`
	Verdict bench.Verdict  `json:"verdict"`
}

// Write puts the evidence in dir: results.json, junit.xml, report.html, SHA256SUMS,
// and all of them in evidence.tar.gz (with evidence.tar.gz.sha256).
func Write(dir string, r Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return Render(dir, r)
}

// Render writes junit.xml, report.html, SHA256SUMS and evidence.tar.gz from results
// (xckit report re-renders them).
func Render(dir string, r Results) error {
	if err := atomicfile.Write(filepath.Join(dir, "junit.xml"), JUnit(r), 0o644); err != nil {
		return err
	}
	html, err := HTML(r)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.html"), html, 0o644); err != nil {
		return err
	}
	files := []string{"results.json", "junit.xml", "report.html"}
	if err := writeSums(dir, files); err != nil {
		return err
	}
	return writeBundle(dir, append(files, "SHA256SUMS"), r.Finished)
}

// writeBundle packs the evidence into evidence.tar.gz (fixed owners, modes and times,
// so the same results give the same bundle) and writes its own checksum beside it.
func writeBundle(dir string, files []string, when time.Time) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.ModTime = when
	tw := tar.NewWriter(zw)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: "evidence/" + f, Mode: 0o644, Size: int64(len(data)), ModTime: when, Typeflag: tar.TypeReg,
			Uname: "xckit", Gname: "xckit", Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("evidence.tar.gz: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("evidence.tar.gz: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("evidence.tar.gz: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("evidence.tar.gz: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "evidence.tar.gz"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	return atomicfile.Write(filepath.Join(dir, "evidence.tar.gz.sha256"), []byte(hex.EncodeToString(sum[:])+"  evidence.tar.gz\n"), 0o644)
}

// Load reads results.json (a file or the directory holding it).
func Load(path string) (Results, string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Results{}, "", err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return r, "", fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != Schema {
		return r, "", fmt.Errorf("%s: schema %d, this xckit reads %d", path, r.Schema, Schema)
	}
	return r, filepath.Dir(path), nil
}

func writeSums(dir string, files []string) error {
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), f)
	}
	return atomicfile.Write(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
