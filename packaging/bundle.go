package packaging

import (
	"bufio"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Manifest is the bundle's BUNDLE file: key=value lines.
type Manifest struct {
	Version string `json:"version"`
	Arch    string `json:"arch"` // amd64 or arm64
	Commit  string `json:"commit"`
	Date    string `json:"build_date"`
}

// VerifyResult is what `xckit bundle verify` found.
type VerifyResult struct {
	Dir      string   `json:"dir"`
	Manifest Manifest `json:"manifest"`
	Files    int      `json:"files_checked"`
	Problems []string `json:"problems,omitempty"`
}

// OK reports a clean bundle.
func (r VerifyResult) OK() bool { return len(r.Problems) == 0 }

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Verify checks every file listed in SHA256SUMS, that no file is missing from the
// list, and that bin/xckit and bin/payd are static ELF binaries for the manifest's
// architecture.
func Verify(dir string) (VerifyResult, error) {
	res := VerifyResult{Dir: dir}
	m, err := readManifest(filepath.Join(dir, "BUNDLE"))
	if err != nil {
		return res, err
	}
	res.Manifest = m
	sums, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return res, fmt.Errorf("bundle %s: %w (is this an xckit bundle?)", dir, err)
	}
	defer sums.Close()
	listed := map[string]bool{"SHA256SUMS": true}
	sc := bufio.NewScanner(sums)
	line := 0
	for sc.Scan() {
		line++
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 {
			res.Problems = append(res.Problems, fmt.Sprintf("SHA256SUMS line %d is not \"<sha256>  <file>\"", line))
			continue
		}
		listed[name] = true
		got, err := fileSum(filepath.Join(dir, name))
		switch {
		case err != nil:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", name, err))
		case got != want:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: checksum mismatch (the file was changed or damaged in transfer)", name))
		}
		res.Files++
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			if !listed[rel] {
				res.Problems = append(res.Problems, fmt.Sprintf("%s: not listed in SHA256SUMS (added after the bundle was made)", rel))
			}
		}
		return nil
	})
	for _, bin := range []string{"bin/xckit", "bin/payd"} {
		if err := checkELF(filepath.Join(dir, bin), m.Arch); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", bin, err))
		}
	}
	return res, nil
}

func readManifest(file string) (Manifest, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle manifest: %w", err)
	}
	var m Manifest
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "version":
			m.Version = v
		case "arch":
			m.Arch = v
		case "commit":
			m.Commit = v
		case "build_date":
			m.Date = v
		}
	}
	if _, ok := elfMachine[m.Arch]; !ok {
		return m, fmt.Errorf("bundle manifest %s: arch %q is not amd64 or arm64", file, m.Arch)
	}
	return m, nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkELF checks that a binary is a static ELF executable for arch.
func checkELF(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	defer f.Close()
	if f.Machine != elfMachine[arch] {
		return fmt.Errorf("built for %s, but the bundle is for %s (%s)", f.Machine, arch, elfMachine[arch])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked: the site may lack its libraries; build with CGO_ENABLED=0")
		}
	}
	return nil
}
