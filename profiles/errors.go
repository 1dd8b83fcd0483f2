package profiles

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem in a profile file, located by file, line and field path.
type FieldError struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
}

func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a profile and the profiles it extends.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return false
		}
		return es[i].Line < es[j].Line
	})
	return es
}

// knownFields maps "profiles.Host" to its YAML field names, for "valid fields are ...".
var knownFields = map[string][]string{}

func init() {
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[Profile]().PkgPath() {
			return
		}
		key := "profiles." + t.Name()
		if _, done := knownFields[key]; done {
			return
		}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			names = append(names, name)
			walk(f.Type)
		}
		knownFields[key] = names
		_ = names
	}
	walk(reflect.TypeFor[Profile]())
}

var (
	lineRe      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe   = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	cantRe      = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	yamlLineRe  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	goTypeWords = map[string]string{
		"int": "a whole number", "int64": "a whole number", "bool": "true or false",
		"string": "text", "[]string": "a list of text", "[]int": "a list of numbers",
		"map[string]string": "a mapping of name: value",
	}
)

// fromYAMLMessage turns one yaml.v3 message ("line 5: field foo not found in type
// profiles.Host") into a FieldError with the field's path and a remedy.
func fromYAMLMessage(file string, idx map[int]string, msg string) FieldError {
	e := FieldError{File: file, Msg: msg}
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		if m = yamlLineRe.FindStringSubmatch(msg); m == nil {
			return e
		}
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax: " + m[2]
		return e
	}
	e.Line, _ = strconv.Atoi(m[1])
	e.Field = idx[e.Line]
	e.Msg = m[2]
	if u := unknownRe.FindStringSubmatch(m[2]); u != nil {
		e.Msg = fmt.Sprintf("unknown field %q", u[1])
		if valid := knownFields[u[2]]; len(valid) > 0 {
			e.Msg += ": valid fields here are " + strings.Join(valid, ", ")
		}
		if e.Field == "" {
			e.Field = u[1]
		}
	} else if c := cantRe.FindStringSubmatch(m[2]); c != nil {
		want := goTypeWords[c[3]]
		if want == "" {
			want = strings.TrimPrefix(c[3], "profiles.")
		}
		e.Msg = fmt.Sprintf("wrong type: want %s, got %q", want, c[2])
	}
	return e
}
