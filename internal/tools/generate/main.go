// Command generate writes the files derived from the role catalog: the
// SpiceDB schema (schema/schema.zed) and the role table in README.md.
// Run it from the module root with `go generate ./...`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gpucloud/iam/internal/catalog"
)

// The markers around the generated table in README.md.
const (
	beginMarker = "<!-- BEGIN ROLE CATALOG (generated; edit internal/catalog) -->\n"
	endMarker   = "<!-- END ROLE CATALOG -->\n"
)

func main() {
	root := flag.String("root", ".", "the module root")
	flag.Parse()

	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	zed := filepath.Join(root, "schema", "schema.zed")
	if err := os.WriteFile(zed, []byte(catalog.Schema()), 0o644); err != nil {
		return err
	}

	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return err
	}
	updated, err := ReplaceTable(readme, catalog.MarkdownTable())
	if err != nil {
		return err
	}
	return os.WriteFile(readmePath, updated, 0o644)
}

// ReplaceTable puts table between the markers of doc.
func ReplaceTable(doc []byte, table string) ([]byte, error) {
	start := bytes.Index(doc, []byte(beginMarker))
	end := bytes.Index(doc, []byte(endMarker))
	if start < 0 || end < start {
		return nil, fmt.Errorf("README.md lacks the role catalog markers")
	}

	var out bytes.Buffer
	out.Write(doc[:start+len(beginMarker)])
	out.WriteString(table)
	out.Write(doc[end:])
	return out.Bytes(), nil
}
