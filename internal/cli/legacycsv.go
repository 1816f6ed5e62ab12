package cli

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// The columns of a legacy assignment file.
const (
	columnEmail = "email"
	columnGroup = "legacy_group"
)

// maxProblems bounds how many problems of one file are listed; a file
// with more is probably not the expected export at all.
const maxProblems = 25

// legacyRow is one validated row of a legacy assignment file.
type legacyRow struct {
	Line  int
	Email string

	// Group is the legacy group's canonical name.
	Group string
}

// csvProblem is one bad cell or row, located for the fix. Column is
// 1-based; 0 means the whole row.
type csvProblem struct {
	Line    int
	Column  int
	Name    string
	Value   string
	Problem string
	Fix     string
}

func (p csvProblem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", p.Line)
	if p.Column > 0 {
		fmt.Fprintf(&b, ", column %d (%s) %q", p.Column, p.Name, p.Value)
	}
	b.WriteString(": " + p.Problem)
	if p.Fix != "" {
		b.WriteString("; " + p.Fix)
	}
	return b.String()
}

// importError lists every problem found in an import file.
type importError struct {
	File     string
	Problems []csvProblem

	// More counts the problems found beyond those listed.
	More int
}

func (e *importError) Error() string {
	n := len(e.Problems) + e.More
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, nothing was written:",
		e.File, plural(n, "problem"))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.More)
	}
	return b.String()
}

// csvParser validates the rows of one file, collecting every problem.
type csvParser struct {
	err importError

	// col maps a column name to its 0-based index.
	col map[string]int

	// exact maps "email\x00group" to the row's line, and folded maps a
	// lowercased email to its first row: same address, other spelling
	// is almost certainly a mistake and would make two principals.
	exact  map[string]int
	folded map[string]legacyRow

	rows []legacyRow
}

// parseLegacyCSV reads a file with the header email,legacy_group (in
// either order) and validates all of it: a malformed email, an unknown
// legacy group or a duplicate row is reported with its line, column and
// value. Any problem fails the whole file.
func parseLegacyCSV(name string, data []byte) ([]legacyRow, error) {
	p := &csvParser{
		err:    importError{File: name},
		exact:  map[string]int{},
		folded: map[string]legacyRow{},
	}

	// Spreadsheet exports often start with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1

	if err := p.header(r); err != nil {
		return nil, err
	}
	p.body(r)

	if len(p.rows) == 0 && len(p.err.Problems) == 0 {
		p.add(csvProblem{
			Line:    2,
			Problem: "the file has no rows after the header",
			Fix:     "add one email,legacy_group row per assignment",
		})
	}
	if len(p.err.Problems) > 0 {
		return nil, &p.err
	}
	return p.rows, nil
}

func (p *csvParser) add(problem csvProblem) {
	if len(p.err.Problems) >= maxProblems {
		p.err.More++
		return
	}
	p.err.Problems = append(p.err.Problems, problem)
}

// header reads the first record and maps the two columns.
func (p *csvParser) header(r *csv.Reader) error {
	record, err := r.Read()
	if err == io.EOF {
		p.add(csvProblem{
			Line:    1,
			Problem: "the file is empty",
			Fix:     "start it with the header email,legacy_group",
		})
		return &p.err
	}
	if err != nil {
		p.addReadError(err)
		return &p.err
	}

	for i, cell := range record {
		if strings.Contains(cell, "@") {
			p.add(csvProblem{
				Line: 1, Column: i + 1, Name: "header", Value: cell,
				Problem: "the first line is a row, not the header",
				Fix:     "add the line email,legacy_group first",
			})
			return &p.err
		}
	}

	p.col = map[string]int{}
	for i, cell := range record {
		key := strings.ToLower(strings.TrimSpace(cell))
		switch {
		case key != columnEmail && key != columnGroup:
			p.add(csvProblem{
				Line: 1, Column: i + 1, Name: "header", Value: cell,
				Problem: "unknown column",
				Fix:     "the header must be email,legacy_group",
			})
		case p.hasColumn(key):
			p.add(csvProblem{
				Line: 1, Column: i + 1, Name: "header", Value: cell,
				Problem: "the column appears twice",
				Fix:     "the header must be email,legacy_group",
			})
		default:
			p.col[key] = i
		}
	}
	if len(p.err.Problems) > 0 {
		return &p.err
	}

	for _, want := range []string{columnEmail, columnGroup} {
		if !p.hasColumn(want) {
			p.add(csvProblem{
				Line:    1,
				Problem: "the header lacks the " + want + " column",
				Fix:     "the header must be email,legacy_group",
			})
		}
	}
	if len(p.err.Problems) > 0 {
		return &p.err
	}
	return nil
}

func (p *csvParser) hasColumn(name string) bool {
	_, ok := p.col[name]
	return ok
}

// body validates every data row. A syntax error stops the reading: what
// follows a broken quote cannot be located reliably.
func (p *csvParser) body(r *csv.Reader) {
	for {
		record, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			p.addReadError(err)
			return
		}

		line, _ := r.FieldPos(0)
		if len(record) != len(p.col) {
			p.add(csvProblem{
				Line: line,
				Problem: fmt.Sprintf("the row has %d fields, "+
					"the header %d", len(record), len(p.col)),
				Fix: "write email,legacy_group; quote a value " +
					"holding a comma",
			})
			continue
		}
		p.row(line, record)
	}
}

// addReadError reports a CSV syntax error at its place.
func (p *csvParser) addReadError(err error) {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		p.add(csvProblem{Line: 1, Problem: err.Error()})
		return
	}
	// A quoted field runs over lines: point at the record's start and
	// say where the reader gave up.
	problem := fmt.Sprintf("%v (column %d)", pe.Err, pe.Column)
	if pe.Line != pe.StartLine {
		problem = fmt.Sprintf("%v (found at line %d, column %d)",
			pe.Err, pe.Line, pe.Column)
	}
	p.add(csvProblem{
		Line:    pe.StartLine,
		Problem: problem,
		Fix: "fix the quoting; a value holding a comma or a quote " +
			"must be quoted, with quotes doubled inside",
	})
}

// row validates one data row and records it if it is good.
func (p *csvParser) row(line int, record []string) {
	emailCol := p.col[columnEmail]
	groupCol := p.col[columnGroup]
	email := strings.TrimSpace(record[emailCol])
	groupName := strings.TrimSpace(record[groupCol])
	ok := true

	if problem, fix := checkEmail(email); problem != "" {
		p.add(csvProblem{
			Line: line, Column: emailCol + 1, Name: columnEmail,
			Value: email, Problem: problem, Fix: fix,
		})
		ok = false
	}

	group, err := catalog.LookupLegacyGroup(columnGroup, groupName)
	if err != nil {
		problem, fix := explain(err)
		p.add(csvProblem{
			Line: line, Column: groupCol + 1, Name: columnGroup,
			Value: groupName, Problem: problem, Fix: fix,
		})
		ok = false
	}
	if !ok {
		return
	}

	p.dedupe(legacyRow{Line: line, Email: email, Group: group.Name},
		emailCol+1)
}

// dedupe records row unless it repeats an earlier row or spells an
// earlier row's email differently.
func (p *csvParser) dedupe(row legacyRow, emailColumn int) {
	folded := strings.ToLower(row.Email)
	if first, seen := p.folded[folded]; seen && first.Email != row.Email {
		p.add(csvProblem{
			Line: row.Line, Column: emailColumn, Name: columnEmail,
			Value: row.Email,
			Problem: fmt.Sprintf("the same address as %q on line %d "+
				"in other letter case", first.Email, first.Line),
			Fix: "spell it the same way on every line",
		})
		return
	}

	key := row.Email + "\x00" + row.Group
	if line, seen := p.exact[key]; seen {
		p.add(csvProblem{
			Line: row.Line, Column: emailColumn, Name: columnEmail,
			Value: row.Email,
			Problem: fmt.Sprintf("duplicate of line %d (legacy group %s)",
				line, row.Group),
			Fix: "remove one of the two rows",
		})
		return
	}

	p.exact[key] = row.Line
	if _, seen := p.folded[folded]; !seen {
		p.folded[folded] = row
	}
	p.rows = append(p.rows, row)
}

// checkEmail returns why s is not a bare email address, with a fix, or
// empty strings if it is one.
func checkEmail(s string) (problem, fix string) {
	const example = "write a bare address such as first.last@example.com"
	if s == "" {
		return "the email is empty", "give the user's address"
	}

	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "not an email address", example
	}
	_, domain, _ := strings.Cut(s, "@")
	if !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") {
		return "the domain " + domain + " is not a full domain name",
			example
	}

	if err := principal.ValidateID(columnEmail, s); err != nil {
		return explain(err)
	}
	return "", ""
}

// explain takes the problem and fix out of a classified error.
func explain(err error) (problem, fix string) {
	var e *iamerr.Error
	if errors.As(err, &e) {
		return e.Problem, e.Fix
	}
	return err.Error(), ""
}
