package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SiteFile is the site description of the lab, for cutover, rollback, cdc and verify.
func SiteFile(dir string) string { return filepath.Join(dir, "site.yaml") }

// writeSite describes the lab as a site (mode 0600: it holds the lab's passwords). The
// new system is payd installed with `xckit install --prefix <dir>/new` on gauss.
func writeSite(s State, o Options) error {
	xckit := o.XckitBin
	if xckit == "" {
		xckit, _ = os.Executable()
	}
	e := s.env()
	q := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
	lb := filepath.Join(s.Dir, "lb")
	site := fmt.Sprintf(`# written by xckit lab up: the lab as a site (see docs/site.md)
profile: lab
new:
  db: %s
  admin_db: %s
  cdc_source: %s
  prefix: %s
  listen: 127.0.0.1:%d
legacy:
  db: %s
  admin_db: %s
  cdc_target: %s
  start: %s
  stop: %s
  ready: http://127.0.0.1:%d/readyz
switch:
  driver: nginx
  nginx:
    args: [-p, %s, -c, %s, -e, %s]
    pid_file: %s
    route_file: %s
    upstreams: {new: "127.0.0.1:%d", legacy: "127.0.0.1:%d"}
    side_url: http://127.0.0.1:%d/__lb/route
  probe: http://127.0.0.1:%d
cdc:
  slot: xckit_cdc
smoke:
  merchant: %s
  key: %s
  agreement: ag-seed-1
  channel: tenpay
`, q(e.GaussDSN), q(e.GaussAdminDSN), q(e.GaussCDCDSN), q(filepath.Join(s.Dir, "new")), s.NewAppPort,
		q(e.LegacyDSN), q(e.LegacyAdminDSN), q(e.LegacyAdminDSN),
		q(fmt.Sprintf("%s lab up --dir %s --parts legacy-app --log-level warn", xckit, s.Dir)),
		q(fmt.Sprintf("%s lab down --dir %s --parts legacy-app --log-level warn", xckit, s.Dir)),
		s.LegacyAppPort, lb, filepath.Join(lb, "nginx.conf"), filepath.Join(lb, "error.log"), filepath.Join(lb, "nginx.pid"), RouteFile(s.Dir),
		s.NewAppPort, s.LegacyAppPort, s.LBPort, s.LBPort, s.MerchantID, q(s.MerchantKey))
	return writeFileAtomic(SiteFile(s.Dir), []byte(site), 0o600)
}
