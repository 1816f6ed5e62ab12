// Command examplegen writes deploy/examples/large-org: organization
// c0ffee of a GPU cloud customer with 300 users in 30 groups and a dozen
// policies, as an organization file, and the legacy group assignments an
// administrator exported for 250 of those users, as a CSV file for
// `iamctl legacy import`.
//
// The output is deterministic, so the committed files can be checked
// against it:
//
//	go run ./internal/cli/examplegen -out deploy/examples/large-org
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

//go:generate go run . -out ../../../deploy/examples/large-org

// The files examplegen writes.
const (
	documentFile = "bootstrap.yaml"
	csvFile      = "legacy-assignments.csv"
)

func main() {
	out := flag.String("out", "deploy/examples/large-org",
		"directory to write "+documentFile+" and "+csvFile+" to")
	flag.Parse()

	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "examplegen:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files(build()) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// files renders the model as the files examplegen writes.
func files(m *model) map[string][]byte {
	return map[string][]byte{
		documentFile: m.yaml(),
		csvFile:      m.csv(),
	}
}
