package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain skips the whole package under -short: its tests build images
// and run containers, and its unit tests only serve the harness.
func TestMain(m *testing.M) {
	flag.Parse()

	if testing.Short() {
		fmt.Println("e2e: skipped under -short: the suite runs containers")
		os.Exit(0)
	}

	os.Exit(m.Run())
}
