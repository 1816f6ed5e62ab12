package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

func checkOutput(format string) error {
	switch format {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return fmt.Errorf("--output %q: unknown format; "+
		"use table, json or yaml", format)
}

// print writes msg as -o asks: JSON and YAML show the whole message with
// proto field names; the table form is drawn by table.
func (a *app) print(msg proto.Message, table func(*table)) error {
	return render(a.env.Stdout, a.output, msg, table)
}

func render(
	w io.Writer, format string, msg proto.Message, draw func(*table),
) error {
	switch format {
	case formatJSON:
		return writeJSON(w, msg)
	case formatYAML:
		return writeYAML(w, msg)
	}

	t := &table{}
	draw(t)
	return t.write(w)
}

// marshalJSON renders msg as compact JSON. protojson varies its
// whitespace on purpose; compacting makes the output stable.
func marshalJSON(msg proto.Message) ([]byte, error) {
	opts := protojson.MarshalOptions{
		UseProtoNames:   true,
		EmitUnpopulated: true,
	}
	raw, err := opts.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("render JSON: %w", err)
	}

	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("render JSON: %w", err)
	}
	return buf.Bytes(), nil
}

func writeJSON(w io.Writer, msg proto.Message) error {
	compact, err := marshalJSON(msg)
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return fmt.Errorf("render JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// writeYAML converts the JSON form, so that both formats show the same
// names and values. Decoding into a node keeps the field order.
func writeYAML(w io.Writer, msg proto.Message) error {
	compact, err := marshalJSON(msg)
	if err != nil {
		return err
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(compact, &doc); err != nil {
		return fmt.Errorf("render YAML: %w", err)
	}
	// JSON reads as flow style with quoted strings; block style reads
	// better, and the encoder still quotes what needs it.
	blockStyle(&doc)

	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("render YAML: %w", err)
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table collects rows and aligns them in columns.
type table struct {
	rows [][]string
}

// row adds one row. A cell's tabs and line breaks become spaces so that a
// value can never break the columns.
func (t *table) row(cells ...string) {
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = strings.Map(flatten, c)
	}
	t.rows = append(t.rows, clean)
}

func flatten(r rune) rune {
	switch r {
	case '\t', '\n', '\r', '\v', '\f':
		return ' '
	}
	return r
}

// write aligns the rows and drops the padding an empty last cell
// leaves at the end of a line.
func (t *table) write(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// list joins values for one cell; an empty list shows as "-".
func list(values []string) string {
	if len(values) == 0 {
		return "-"
	}
	return strings.Join(values, ", ")
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
