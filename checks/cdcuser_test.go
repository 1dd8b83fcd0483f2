package checks

import (
	"strings"
	"testing"

	"github.com/xckit/xckit/internal/dbx"
)

// With openGauss's privilege separation on, SYSADMIN does not decode: only REPLICATION.
func TestCDCUserVerdict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		engine           dbx.Engine
		replication, adm bool
		separated        string
		status           Status
		actualContains   string
	}{
		{dbx.OpenGauss, true, false, "", Pass, "has REPLICATION"},
		{dbx.OpenGauss, false, true, "on", Fail, "privilege separation is on"},
		{dbx.OpenGauss, false, true, "off", Warn, "SYSADMIN only"},
		{dbx.OpenGauss, false, false, "", Fail, "neither"},
		{dbx.PostgreSQL, false, true, "", Pass, "superuser"},
		{dbx.PostgreSQL, false, false, "", Fail, "neither"},
	}
	for _, c := range cases {
		r := cdcUserVerdict(c.engine, "xckit_cdc", c.replication, c.adm, c.separated)
		if r.Status != c.status || !strings.Contains(r.Actual, c.actualContains) {
			t.Errorf("%s repl=%v admin=%v separation=%q: %s %q", c.engine, c.replication, c.adm, c.separated, r.Status, r.Actual)
		}
		if r.Status != Pass && !strings.Contains(r.Remedy, "ALTER ROLE xckit_cdc REPLICATION") {
			t.Errorf("%s: remedy %q", c.engine, r.Remedy)
		}
	}
}
