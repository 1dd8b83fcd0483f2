// Package selftest proves, on a site's real openGauss, every assumption xckit makes
// about it, the way the lab's gauss reproduces them in the tests: it logs in with each
// DSN and names the method the server asked for, reads version and compatibility
// mode, creates a scratch table in the platform's schema, decodes rows of every type
// the platform uses through the site's plugin and the kit's own reader and decoder,
// runs the fence on a scratch role with a held session, checks the xlog functions and
// the upsert form, and then removes everything it made and proves it by listing.
//
// It may import cdc, internal/dbx and the standard library.
package selftest
