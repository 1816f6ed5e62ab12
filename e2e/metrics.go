package e2e

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sample is one line of a Prometheus text exposition.
type Sample struct {
	// Name is the metric's name.
	Name string

	// Labels are the sample's label pairs.
	Labels map[string]string

	// Value is the sample's value.
	Value float64
}

// ParseMetrics reads the Prometheus text format: comments are skipped,
// every other line is a sample.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var samples []Sample

	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)

	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}

		s, err := parseSample(text)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}

		samples = append(samples, s)
	}

	err := scanner.Err()
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}

	return samples, nil
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(text string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}

	end := strings.IndexAny(text, "{ ")
	if end <= 0 {
		return s, fmt.Errorf("no value in %q", text)
	}

	s.Name = text[:end]
	rest := text[end:]

	if rest[0] == '{' {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return s, fmt.Errorf("%s: %w", s.Name, err)
		}

		s.Labels = labels
		rest = after
	}

	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("%s: want a value and an optional "+
			"timestamp, got %q", s.Name, rest)
	}

	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("%s: value: %w", s.Name, err)
	}

	s.Value = v

	return s, nil
}

// parseLabels reads label pairs up to the closing brace and returns
// them with the text after the brace. Values are quoted, with \\, \"
// and \n escaped.
func parseLabels(text string) (map[string]string, string, error) {
	labels := map[string]string{}

	for {
		text = strings.TrimLeft(text, " ,")
		if strings.HasPrefix(text, "}") {
			return labels, text[1:], nil
		}

		eq := strings.IndexByte(text, '=')
		if eq <= 0 || eq+1 >= len(text) || text[eq+1] != '"' {
			return nil, "", fmt.Errorf("bad label pair in %q", text)
		}

		name := strings.TrimSpace(text[:eq])

		var value strings.Builder
		i := eq + 2
		for ; i < len(text) && text[i] != '"'; i++ {
			if text[i] != '\\' || i+1 == len(text) {
				value.WriteByte(text[i])
				continue
			}

			i++
			switch text[i] {
			case 'n':
				value.WriteByte('\n')
			default:
				value.WriteByte(text[i])
			}
		}

		if i == len(text) {
			return nil, "", fmt.Errorf("unterminated value of %s", name)
		}

		labels[name] = value.String()
		text = text[i+1:]
	}
}

// SumSamples adds up the samples named name whose labels include every
// pair of match.
func SumSamples(samples []Sample, name string, match map[string]string) float64 {
	var total float64

	for _, s := range samples {
		if s.Name != name || !hasLabels(s, match) {
			continue
		}

		total += s.Value
	}

	return total
}

// hasLabels tells whether s carries every pair of match.
func hasLabels(s Sample, match map[string]string) bool {
	for k, v := range match {
		if s.Labels[k] != v {
			return false
		}
	}

	return true
}
