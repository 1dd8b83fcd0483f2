package platform

import "strings"

// TestTag starts every req_id and customer name that the kit's own traffic writes:
// install and cutover smoke tests ("xckit-smoke-…", "xckit-cutover-smoke-…"), bench
// and acceptance runs (bench.RunID), the accounts their preparation seeds. A row that
// carries it is test traffic; a row that does not is the bank's.
const TestTag = "xckit-"

// IsTestTraffic reports whether a row of the platform's tables (cols its column names,
// row its values) was written by the kit's own test traffic: its req_id (payments) or
// its customer (accounts, agreements) carries TestTag. A cutover deletes from the new
// side only rows for which this holds.
func IsTestTraffic(cols, row []string) bool {
	for i, c := range cols {
		if (c == "req_id" || c == "customer") && i < len(row) && strings.HasPrefix(row[i], TestTag) {
			return true
		}
	}
	return false
}
