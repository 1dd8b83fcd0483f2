package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker: -X github.com/xckit/xckit/internal/buildinfo.Version=...
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info describes one binary.
type Info struct {
	Program   string `json:"program"`
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"build_date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Get returns the build information of the running binary. Without linker stamps it
// falls back to what the Go toolchain recorded.
func Get(program string) Info {
	i := Info{Program: program, Version: Version, Commit: Commit, Date: Date,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "":
				i.Commit = s.Value
			case s.Key == "vcs.time" && i.Date == "":
				i.Date = s.Value
			}
		}
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}
