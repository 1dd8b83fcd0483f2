// Package packaging is the offline bundle: its layout (bin/, profiles/, docs/,
// scripts/, install.sh, SHA256SUMS, BUNDLE) and `xckit bundle verify`, which checks the
// sums and that the binaries are built for the bundle's architecture before anything
// is installed on an air-gapped site.
//
// It imports only the standard library.
package packaging
