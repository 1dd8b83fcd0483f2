package profiles

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestBuiltinsResolve(t *testing.T) {
	t.Parallel()
	names := Names()
	for _, want := range []string{"base", "server", "lab", "kunpeng920-kylinv10", "kunpeng920-euleros2", "kunpeng920-openeuler2203"} {
		p, err := Load(want)
		if err != nil {
			t.Errorf("%s: %v", want, err)
			continue
		}
		if p.Name != want {
			t.Errorf("%s: name %q", want, p.Name)
		}
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("Names() = %v lacks %s", names, want)
		}
	}
}

func TestKunpengAcceptanceIsTheReferenceCase(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"kunpeng920-kylinv10", "kunpeng920-euleros2", "kunpeng920-openeuler2203"} {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Duration{"debit": 45 * time.Millisecond, "credit": 40 * time.Millisecond}
		if len(p.Acceptance.Cases) != 2 {
			t.Fatalf("%s: %d cases", name, len(p.Acceptance.Cases))
		}
		for _, c := range p.Acceptance.Cases {
			if c.TPS != 500 || c.MaxAvgLatency.D() != want[c.Name] || c.MinSuccess != 100 || c.MaxCPU != 10 || c.MaxMemory != 10 {
				t.Errorf("%s case %s = %+v, want 500 TPS, avg %v, 100%%, cpu/mem 10%%", name, c.Name, c, want[c.Name])
			}
		}
		if p.Host.Arch[0] != "arm64" || p.Host.CPUModels[0] != "Kunpeng 920" {
			t.Errorf("%s: host %+v", name, p.Host)
		}
		// inherited from base
		if p.Host.Sysctl["net.core.somaxconn"] != ">=65535" || p.Host.Limits.NoFile != 1000000 || p.Database.Parameters["wal_level"] != "logical" {
			t.Errorf("%s did not inherit base: %+v", name, p.Host)
		}
	}
}

func TestSiteFileExtendsBuiltin(t *testing.T) {
	t.Parallel()
	p, err := LoadFile("testdata/good/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Host.MinMemory.Bytes() != 256<<30 || p.Host.MinCores != 32 {
		t.Errorf("override/inherit: memory %v cores %d", p.Host.MinMemory, p.Host.MinCores)
	}
	if p.Host.Sysctl["net.core.somaxconn"] != ">=131072" || p.Host.Sysctl["vm.swappiness"] != "<=10" {
		t.Errorf("sysctl maps merge key by key: %v", p.Host.Sysctl)
	}
	if len(p.Acceptance.Cases) != 1 || p.Acceptance.Cases[0].TPS != 800 || p.Acceptance.Cases[0].MinSuccess != 99.99 {
		t.Errorf("lists replace whole: %+v", p.Acceptance.Cases)
	}
}

func TestBadProfilesNameFileLineAndField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want []string
	}{
		{"testdata/bad/a.yaml", []string{
			`testdata/bad/b.yaml:2: extends: extends cycle: site-a -> site-b -> site-a`,
			`testdata/bad/a.yaml:5: host.colour: unknown field "colour": valid fields here are arch, cpu_models`,
			`testdata/bad/a.yaml:12: acceptance.cases[0].max_avg_latency: bad duration "45 parsecs": write a number with a unit`,
		}},
		{"testdata/bad/types.yaml", []string{
			`testdata/bad/types.yaml:4: host.min_cores: wrong type: want a whole number, got "many"`,
			`testdata/bad/types.yaml:7: host.disk.warn_used: bad percentage "140%"`,
			`testdata/bad/types.yaml:9: database.max_retained_wal: bad size "lots"`,
		}},
		{"testdata/bad/orphan.yaml", []string{
			`testdata/bad/orphan.yaml:2: extends: no profile named "no-such-profile" to extend`,
		}},
	}
	for _, c := range cases {
		_, err := LoadFile(c.file)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s: got %v, want profile Errors", c.file, err)
		}
		if len(errs) != len(c.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", c.file, len(errs), len(c.want), errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs.Error(), w) {
				t.Errorf("%s: errors lack %q:\n%v", c.file, w, errs)
			}
		}
	}
}

func TestSemanticErrorsAfterParsing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "sem.yaml")
	os.WriteFile(file, []byte("name: sem\nextends: base\nhost:\n  thp: sometimes\nacceptance:\n  cases:\n    - name: x\n      scenario: payment.refund\n      tps: 0\n      duration: 1m\n      min_success: 100%\n"), 0o644)
	_, err := LoadFile(file)
	for _, w := range []string{
		`sem.yaml:4: host.thp: "sometimes": use never, madvise or always`,
		`sem.yaml:8: acceptance.cases[0].scenario: "payment.refund" is not a scenario`,
		`sem.yaml:9: acceptance.cases[0].tps: missing or zero`,
		`sem.yaml:7: acceptance.cases[0]: no latency limit`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in:\n%v", w, err)
		}
	}
}

func TestUnits(t *testing.T) {
	t.Parallel()
	var v struct {
		D  Duration `yaml:"d"`
		B  ByteSize `yaml:"b"`
		B2 ByteSize `yaml:"b2"`
		B3 ByteSize `yaml:"b3"`
		R  Rate     `yaml:"r"`
		R2 Rate     `yaml:"r2"`
		P  Percent  `yaml:"p"`
	}
	in := "d: 45ms\nb: 64GiB\nb2: 10GB\nb3: 4096\nr: 500\nr2: 750tps\np: 99.99%\n"
	if err := yaml.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.D() != 45*time.Millisecond || v.B.Bytes() != 64<<30 || v.B2.Bytes() != 10e9 || v.B3.Bytes() != 4096 || v.R != 500 || v.R2 != 750 || v.P != 99.99 {
		t.Errorf("parsed %+v", v)
	}
	if v.B.String() != "64GiB" || v.D.String() != "45ms" || v.P.String() != "99.99%" {
		t.Errorf("render: %s %s %s", v.B, v.D, v.P)
	}
	for _, bad := range []string{"d: 45", "d: fast", "b: 64 parsecs", "r: -5", "p: 101%", "d: [1, 2]"} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestShowLabGolden(t *testing.T) {
	t.Parallel()
	p, err := Load("lab")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "lab.resolved.golden.yaml")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./profiles -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("resolved lab profile differs from %s:\n%s", golden, got)
	}
	// The rendered form loads back to the same profile.
	var back Profile
	if err := yaml.Unmarshal(got, &back); err != nil || back.Acceptance.Cases[1].MaxAvgLatency != p.Acceptance.Cases[1].MaxAvgLatency {
		t.Errorf("rendered profile does not load back: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{"name: x\n", "name: x\nextends: base\nhost: {thp: never}\n", "name: x\nacceptance: {cases: [{name: a, tps: 1}]}\n", ": :\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "f.yaml")
		os.WriteFile(file, []byte(data), 0o644)
		_, _ = LoadFile(file) // must never panic
	})
}
