// Package schema embeds the SpiceDB schema of the permission model.
//
// schema.zed is generated from internal/catalog; run `go generate ./...`
// from the module root after changing the catalog.
package schema

import _ "embed"

//go:generate go run ../internal/tools/generate -root ..

// Text is the SpiceDB schema, as written to SpiceDB at start.
//
//go:embed schema.zed
var Text string
