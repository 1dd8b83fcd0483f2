// Package lab builds the local world every test and the demo run on: "gauss" (a
// PostgreSQL 15 cluster standing in for openGauss), "legacy" (a MariaDB instance, the
// legacy database) and "lb" (nginx, standing in for the site's F5), all under one
// directory, on loopback, started and stopped by pid.
//
// It may import internal/dbx, internal/atomicfile, internal/proc, lab/gaussfront and the
// standard library. Nothing in the kit's production paths imports lab.
package lab
