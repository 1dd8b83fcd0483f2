// Package layout holds no code of the kit: its test keeps the repository's shape true.
// Every package has a doc.go whose sentence "It may import ..." (or "It imports only
// ...") lists what it may import, and the test fails when a package imports anything
// else; lab and its front are imported only by cmd/ and the test helpers.
//
// It imports only the standard library.
package layout
