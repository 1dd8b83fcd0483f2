package profiles

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// unitError is a yaml.TypeError so that yaml.v3 keeps decoding and reports every
// problem of a file in one go, each with its line.
func unitError(n *yaml.Node, kind, hint string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: bad %s %q: %s", n.Line, kind, n.Value, hint)}}
}

func scalar(n *yaml.Node, kind, hint string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: bad %s: want a single value such as %s", n.Line, kind, hint)}}
	}
	return strings.TrimSpace(n.Value), nil
}

// Duration is a time span written with a unit: "45ms", "2s", "10m", "1h30m".
type Duration time.Duration

const durationHint = "write a number with a unit: 45ms, 2s, 10m, 1h"

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "duration", "45ms")
	if err != nil {
		return err
	}
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return unitError(n, "duration", durationHint)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) D() time.Duration             { return time.Duration(d) }
func (d Duration) String() string               { return time.Duration(d).String() }
func (d Duration) MarshalYAML() (any, error)    { return d.String(), nil }
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// ByteSize is an amount of memory or disk: "64GiB", "512MiB", "10G", "4096" (bytes).
// K, M, G, T and their "iB" forms are powers of 1024; "KB", "MB", "GB", "TB" are
// powers of 1000.
type ByteSize int64

var sizeRe = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*([KMGTP]?)(iB|B|)$`)

const sizeHint = "write a number with a unit: 512MiB, 64GiB, 1TB, or plain bytes"

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "size", "64GiB")
	if err != nil {
		return err
	}
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return unitError(n, "size", sizeHint)
	}
	num, _ := strconv.ParseFloat(m[1], 64)
	base := 1024.0
	if m[3] == "B" && m[2] != "" {
		base = 1000
	}
	pow := strings.Index("KMGTP", m[2]) + 1
	if m[2] == "" {
		pow = 0
	}
	*b = ByteSize(num * math.Pow(base, float64(pow)))
	return nil
}

func (b ByteSize) Bytes() int64 { return int64(b) }

func (b ByteSize) String() string {
	v := float64(b)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 || u == "TiB" {
			return strings.TrimSuffix(strings.TrimSuffix(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".0") + u
		}
		v /= 1024
	}
	return ""
}
func (b ByteSize) MarshalYAML() (any, error)    { return b.String(), nil }
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(int64(b)) }

// Rate is transactions per second: "500", "500tps", "500/s".
type Rate float64

var rateRe = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*(?:tps|/s)?$`)

func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "rate", "500")
	if err != nil {
		return err
	}
	m := rateRe.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return unitError(n, "rate", "write transactions per second: 500, 500tps or 500/s")
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	*r = Rate(v)
	return nil
}

func (r Rate) String() string               { return strconv.FormatFloat(float64(r), 'f', -1, 64) }
func (r Rate) MarshalYAML() (any, error)    { return float64(r), nil }
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(float64(r)) }

// Percent is a share between 0 and 100: "10%", "99.99%", or a bare number.
type Percent float64

func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "percentage", "10%")
	if err != nil {
		return err
	}
	v, perr := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if perr != nil || v < 0 || v > 100 {
		return unitError(n, "percentage", "write a share between 0% and 100%, e.g. 10% or 99.9%")
	}
	*p = Percent(v)
	return nil
}

func (p Percent) String() string               { return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%" }
func (p Percent) MarshalYAML() (any, error)    { return p.String(), nil }
func (p Percent) MarshalJSON() ([]byte, error) { return json.Marshal(float64(p)) }

// UnmarshalJSON reads what MarshalJSON wrote ("45ms"), so results round-trip.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" || s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// UnmarshalJSON reads bytes as a number.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var v int64
	err := json.Unmarshal(data, &v)
	*b = ByteSize(v)
	return err
}

// UnmarshalJSON reads a rate as a number.
func (r *Rate) UnmarshalJSON(data []byte) error {
	var v float64
	err := json.Unmarshal(data, &v)
	*r = Rate(v)
	return err
}

// UnmarshalJSON reads a percentage as a number.
func (p *Percent) UnmarshalJSON(data []byte) error {
	var v float64
	err := json.Unmarshal(data, &v)
	*p = Percent(v)
	return err
}
