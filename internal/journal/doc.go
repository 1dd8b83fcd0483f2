// Package journal is the append-only, fsynced step journal the installer and the
// cutover share: each step is recorded as started, then finished or failed. A step
// that started and never finished marks the run dirty, so an interrupted run is
// resumed knowingly instead of repeated blindly.
//
// It imports only the standard library.
package journal
