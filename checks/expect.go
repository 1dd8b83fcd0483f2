package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Expectation is a profile's wanted value: ">=N" at least, "<=N" at most, "N" or "=N"
// exactly; several numbers compare field by field ("250 6400000 1000 25600"); "~5%mem"
// is a share of physical memory (within a tenth of it either way); any other word
// compares as text, case-insensitively. Numbers may carry units (8GB, 128MB, 64kB).
type Expectation struct {
	Op   string // ">=", "<=", "="
	Raw  string
	nums []float64
	word string
	mem  float64 // share of memory for "~N%mem"
}

var memShare = regexp.MustCompile(`^~(\d+(?:\.\d+)?)%mem$`)

// ParseExpectation reads a profile value.
func ParseExpectation(s string) Expectation {
	e := Expectation{Raw: s, Op: "="}
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, ">="):
		e.Op, t = ">=", t[2:]
	case strings.HasPrefix(t, "<="):
		e.Op, t = "<=", t[2:]
	case strings.HasPrefix(t, "="):
		t = t[1:]
	}
	t = strings.TrimSpace(t)
	if m := memShare.FindStringSubmatch(t); m != nil {
		e.mem, _ = strconv.ParseFloat(m[1], 64)
		e.Op = "~"
		return e
	}
	if nums, ok := parseNumbers(t); ok {
		e.nums = nums
		return e
	}
	e.word = strings.ToLower(t)
	return e
}

var unitNum = regexp.MustCompile(`^(-?\d+(?:\.\d+)?)\s*([kKmMgGtT]?[bB]?)$`)

// parseNumbers reads space-separated numbers with optional size units (kB, MB, GB, TB
// in 1024s, as PostgreSQL prints them).
func parseNumbers(s string) ([]float64, bool) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, false
	}
	out := make([]float64, len(fields))
	for i, f := range fields {
		m := unitNum.FindStringSubmatch(f)
		if m == nil {
			return nil, false
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		switch strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(m[2], "B"), "b")) {
		case "K":
			v *= 1 << 10
		case "M":
			v *= 1 << 20
		case "G":
			v *= 1 << 30
		case "T":
			v *= 1 << 40
		}
		out[i] = v
	}
	return out, true
}

// Met reports whether actual satisfies the expectation; memBytes serves "~N%mem"
// (the actual value is then in kB, as vm.min_free_kbytes is).
func (e Expectation) Met(actual string, memBytes uint64) (bool, error) {
	if e.Op == "~" {
		v, ok := parseNumbers(actual)
		if !ok || len(v) != 1 {
			return false, fmt.Errorf("%q is not a number", actual)
		}
		want := float64(memBytes) / 1024 * e.mem / 100
		return v[0] >= want*0.9 && v[0] <= want*1.1+1, nil
	}
	if e.word != "" {
		return strings.EqualFold(strings.TrimSpace(actual), e.word), nil
	}
	got, ok := parseNumbers(actual)
	if !ok {
		return false, fmt.Errorf("%q is not numeric", actual)
	}
	if len(got) != len(e.nums) {
		return false, nil
	}
	for i := range got {
		switch e.Op {
		case ">=":
			if got[i] < e.nums[i] {
				return false, nil
			}
		case "<=":
			if got[i] > e.nums[i] {
				return false, nil
			}
		default:
			if got[i] != e.nums[i] {
				return false, nil
			}
		}
	}
	return true, nil
}

// Want is the expected value as a person reads it.
func (e Expectation) Want(memBytes uint64) string {
	if e.Op == "~" {
		return fmt.Sprintf("about %.0f (%.0f%% of memory, in kB)", float64(memBytes)/1024*e.mem/100, e.mem)
	}
	return strings.TrimSpace(e.Raw)
}

// Target is a value that satisfies the expectation, for fixes.
func (e Expectation) Target(memBytes uint64) string {
	if e.Op == "~" {
		return fmt.Sprintf("%.0f", float64(memBytes)/1024*e.mem/100)
	}
	return strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(e.Raw), "<>="))
}
