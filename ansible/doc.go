// Package ansible holds no Go code of the kit: it is the home of the playbooks that
// drive the same xckit binary across many hosts (check.yml, install.yml, cdc.yml,
// bench.yml, rollback.yml, site.yml), and of the test that runs them for real over ssh
// against hosts made of network namespaces. It imports only the standard library.
package ansible
