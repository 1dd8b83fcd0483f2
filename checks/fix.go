package checks

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files xckit writes to persist fixes, under the host root.
const (
	SysctlFile = "/etc/sysctl.d/90-xckit.conf"
	LimitsFile = "/etc/security/limits.d/90-xckit.conf"
	THPFile    = "/sys/kernel/mm/transparent_hugepage/enabled"
)

// FixPlan is what --fix would change.
type FixPlan struct {
	Changes []string          `json:"changes"`
	Files   map[string]string `json:"files"`   // path -> full new content
	Runtime map[string]string `json:"runtime"` // /proc/sys or /sys path -> value
	Cannot  []string          `json:"cannot"`  // failed checks without an automatic fix
}

// PlanFixes turns the failed checks with a Fix into file contents and runtime writes.
// The persisted files are merged with what is already there, so planning again after
// applying yields no changes.
func PlanFixes(root string, r Report) (FixPlan, error) {
	p := FixPlan{Files: map[string]string{}, Runtime: map[string]string{}}
	sysctls := map[string]string{}
	limits := map[string]string{}
	for _, c := range r.Checks {
		if c.Status != Fail && !(c.Ignored && c.Fix != nil) {
			continue
		}
		if c.Fix == nil {
			p.Cannot = append(p.Cannot, c.ID)
			continue
		}
		switch c.Fix.Kind {
		case "sysctl":
			sysctls[c.Fix.Key] = c.Fix.Value
			p.Runtime["/proc/sys/"+strings.ReplaceAll(c.Fix.Key, ".", "/")] = c.Fix.Value
			p.Changes = append(p.Changes, fmt.Sprintf("sysctl %s = %s (was %s)", c.Fix.Key, c.Fix.Value, c.Actual))
		case "limits":
			limits[c.Fix.Key] = c.Fix.Value
			p.Changes = append(p.Changes, fmt.Sprintf("limit %s = %s for every user (was %s)", c.Fix.Key, c.Fix.Value, c.Actual))
		case "thp":
			p.Runtime[THPFile] = c.Fix.Value
			p.Changes = append(p.Changes, fmt.Sprintf("transparent huge pages = %s (was %s); add transparent_hugepage=%s to the kernel command line to keep it after a reboot", c.Fix.Value, c.Actual, c.Fix.Value))
		}
	}
	if len(sysctls) > 0 {
		merged := readKV(filepath.Join(root, SysctlFile), " = ")
		for k, v := range sysctls {
			merged[k] = v
		}
		p.Files[SysctlFile] = renderKV("# written by xckit check --fix: openGauss and payd kernel settings\n", merged, " = ")
	}
	if len(limits) > 0 {
		existing := readKV(filepath.Join(root, LimitsFile), " ")
		for k, v := range limits {
			existing["* soft "+k] = v
			existing["* hard "+k] = v
		}
		p.Files[LimitsFile] = renderKV("# written by xckit check --fix\n", existing, " ")
	}
	return p, nil
}

func readKV(path, sep string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if sep == " " { // limits: domain type item value
			f := strings.Fields(line)
			if len(f) == 4 {
				out[strings.Join(f[:3], " ")] = f[3]
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func renderKV(header string, kv map[string]string, sep string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(header)
	for _, k := range keys {
		b.WriteString(k + sep + kv[k] + "\n")
	}
	return b.String()
}

// ApplyFixes writes the plan under root: persisted files atomically, runtime values
// directly. Applying the same plan twice changes nothing.
func ApplyFixes(root string, p FixPlan) error {
	for path, content := range p.Files {
		full := filepath.Join(root, path)
		if old, err := os.ReadFile(full); err == nil && string(old) == content {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := WriteFileAtomic(full, func(w io.Writer) error { _, err := io.WriteString(w, content); return err }); err != nil {
			return fmt.Errorf("write %s: %w", full, err)
		}
		if err := os.Chmod(full, 0o644); err != nil {
			return fmt.Errorf("chmod %s: %w", full, err)
		}
	}
	for path, v := range p.Runtime {
		full := filepath.Join(root, path)
		if err := os.WriteFile(full, []byte(v+"\n"), 0o644); err != nil {
			return fmt.Errorf("set %s: %w", full, err)
		}
	}
	return nil
}
