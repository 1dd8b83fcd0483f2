// Package checks is the preflight: the host (CPU, OS, kernel parameters, limits, THP,
// time sync, disk, ports), the openGauss instance and the legacy database, judged
// against a profile. Building the list (ForProfile) is separate from running it (Run);
// every check has a stable dotted ID, and "could not run" (error) is never confused
// with "found a problem" (fail). Host files are read under a root directory so that
// tests can point at fixture trees.
//
// It may import profiles, internal/dbx, internal/atomicfile, cdc (table and key queries)
// and gopsutil.
package checks
