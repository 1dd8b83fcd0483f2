// Package profiles holds the embedded site profiles (host, database, legacy,
// acceptance, CDC and rollback expectations) and their strict loader: YAML with
// units ("45ms", "64GiB", "500", "10%"), `extends:` inheritance, and errors that name
// the file, line and field.
//
// It imports only the standard library and gopkg.in/yaml.v3.
package profiles
