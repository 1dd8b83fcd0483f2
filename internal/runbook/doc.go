// Package runbook is the one step engine of the kit: named steps with a plan, an
// apply and an optional undo, run in order with a journal (internal/journal) that
// records each step started and finished, so that a run killed anywhere is found dirty
// and continued with --resume, and a failure undoes newest first what the run changed,
// unless it is past its point of no return. Every journal write is checked. The
// installer's phases and the cutover's and rollback's steps are runbook steps.
//
// It may import internal/journal and the standard library.
package runbook
