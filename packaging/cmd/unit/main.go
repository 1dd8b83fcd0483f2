// Command unit prints the systemd unit xckit install writes, for the packages:
// go run ./packaging/cmd/unit PREFIX USER
package main

import (
	"fmt"
	"os"

	"github.com/xckit/xckit/installer"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: unit PREFIX USER")
		os.Exit(2)
	}
	fmt.Print(installer.RenderUnit(os.Args[1], os.Args[2]))
}
