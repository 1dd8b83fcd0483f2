package profiles

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed builtin/*.yaml
var builtin embed.FS

// source is one parsed profile file.
type source struct {
	file        string // shown in errors: "builtin/base.yaml" or the path given
	embedded    bool
	root        *yaml.Node     // the document's top mapping
	index       map[int]string // line -> field path of the key on that line
	paths       map[string]int // field path -> line
	raw         Profile        // this file alone, strictly decoded
	extendsLine int
}

// Names lists the embedded profiles.
func Names() []string {
	entries, _ := fs.ReadDir(builtin, "builtin")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Load resolves an embedded profile by name, or a profile file by path (anything
// containing a slash or ending in .yaml/.yml), applying `extends:`.
func Load(ref string) (*Profile, error) {
	if isPath(ref) {
		return LoadFile(ref)
	}
	src, err := readBuiltin(ref)
	if err != nil {
		return nil, err
	}
	return resolve(src, nil)
}

// LoadFile reads and resolves a profile file on disk.
func LoadFile(file string) (*Profile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", file, err)
	}
	src, errs := parse(file, data, false)
	if src == nil {
		return nil, errs
	}
	return resolve(src, errs)
}

func isPath(ref string) bool {
	return strings.ContainsRune(ref, '/') || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml")
}

func readBuiltin(name string) (*source, error) {
	data, err := builtin.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no profile named %q: the embedded ones are %s (xckit profile list), or give a file path", name, strings.Join(Names(), ", "))
	}
	src, errs := parse("builtin/"+name+".yaml", data, true)
	if len(errs) > 0 {
		return nil, errs
	}
	return src, nil
}

// parse reads one file strictly. It returns the source (nil when the YAML itself is
// unreadable) and every problem found in the file alone.
func parse(file string, data []byte, embedded bool) (*source, Errors) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{fromYAMLMessage(file, nil, err.Error())}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Errors{{File: file, Line: 1, Msg: "a profile is a YAML mapping with name:, host:, database:, acceptance: ..."}}
	}
	src := &source{file: file, embedded: embedded, root: doc.Content[0], index: map[int]string{}, paths: map[string]int{}}
	indexNode(src, src.root, "")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs Errors
	if err := dec.Decode(&src.raw); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Errors{fromYAMLMessage(file, src.index, err.Error())}
		}
		for _, m := range te.Errors {
			errs = append(errs, fromYAMLMessage(file, src.index, m))
		}
	}
	src.extendsLine = src.paths["extends"]
	if src.raw.Name == "" {
		errs = append(errs, FieldError{File: file, Line: 1, Field: "name", Msg: "missing: every profile names itself (name: my-site)"})
	}
	return src, errs
}

func indexNode(src *source, n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			if _, ok := src.index[k.Line]; !ok {
				src.index[k.Line] = p
			}
			src.paths[p] = k.Line
			indexNode(src, v, p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := prefix + "[" + strconv.Itoa(i) + "]"
			src.paths[p] = item.Line
			if _, ok := src.index[item.Line]; !ok && item.Kind == yaml.ScalarNode {
				src.index[item.Line] = p
			}
			indexNode(src, item, p)
		}
	}
}

// parent finds the profile a source extends: a sibling file or path for profiles on
// disk, else an embedded profile.
func (s *source) parent() (*source, error) {
	ref := s.raw.Extends
	if !s.embedded {
		candidate := ref
		if !isPath(ref) {
			candidate = ref + ".yaml"
		}
		if !filepath.IsAbs(candidate) {
			candidate = filepath.Join(filepath.Dir(s.file), candidate)
		}
		if data, err := os.ReadFile(candidate); err == nil {
			src, errs := parse(candidate, data, false)
			if src == nil || len(errs) > 0 {
				return src, errs
			}
			return src, nil
		}
		if isPath(ref) {
			return nil, FieldError{File: s.file, Line: s.extendsLine, Field: "extends", Msg: fmt.Sprintf("no profile file %s", candidate)}
		}
	}
	name := strings.TrimSuffix(path.Base(ref), ".yaml")
	if _, err := builtin.ReadFile("builtin/" + name + ".yaml"); err != nil {
		return nil, FieldError{File: s.file, Line: s.extendsLine, Field: "extends",
			Msg: fmt.Sprintf("no profile named %q to extend: the embedded ones are %s", ref, strings.Join(Names(), ", "))}
	}
	return readBuiltin(name)
}

// resolve follows extends up to the root, merges the chain and validates the result.
// errs holds the leaf file's own problems: the chain is still followed so that every
// problem is reported at once, but nothing is merged.
func resolve(leaf *source, errs Errors) (*Profile, error) {
	chain := []*source{leaf}
	seen := map[string]bool{sourceKey(leaf): true}
	for cur := leaf; cur.raw.Extends != ""; {
		par, err := cur.parent()
		var pe Errors
		switch {
		case errors.As(err, &pe):
			errs = append(errs, pe...)
		case err != nil:
			var fe FieldError
			if errors.As(err, &fe) {
				errs = append(errs, fe)
			} else {
				errs = append(errs, FieldError{File: cur.file, Line: cur.extendsLine, Field: "extends", Msg: err.Error()})
			}
		}
		if par == nil {
			break
		}
		key := sourceKey(par)
		if seen[key] || len(chain) > 16 {
			names := make([]string, 0, len(chain)+1)
			for _, c := range chain {
				names = append(names, c.raw.Name)
			}
			names = append(names, par.raw.Name)
			errs = append(errs, FieldError{File: cur.file, Line: cur.extendsLine, Field: "extends",
				Msg: "extends cycle: " + strings.Join(names, " -> ") + ": make one of them stand alone"})
			break
		}
		seen[key] = true
		chain = append(chain, par)
		cur = par
	}
	if len(errs) > 0 {
		return nil, dedupe(errs)
	}
	merged := cloneNode(chain[len(chain)-1].root)
	for i := len(chain) - 2; i >= 0; i-- {
		merged = mergeNodes(merged, chain[i].root)
	}
	var p Profile
	if err := merged.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", leaf.file, err)
	}
	p.Name, p.Extends = leaf.raw.Name, leaf.raw.Extends
	if errs := validate(&p, chain); len(errs) > 0 {
		return nil, errs
	}
	return &p, nil
}

func sourceKey(s *source) string {
	if s.embedded {
		return "builtin:" + s.file
	}
	abs, err := filepath.Abs(s.file)
	if err != nil {
		abs = filepath.Clean(s.file)
	}
	return abs
}

func dedupe(es Errors) Errors {
	seen := map[string]bool{}
	var out Errors
	for _, e := range es {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out.sorted()
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = cloneNode(ch)
	}
	return &c
}

// mergeNodes lays child over base: mappings merge key by key, everything else
// (scalars and lists, e.g. acceptance.cases) is replaced whole.
func mergeNodes(base, child *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || child.Kind != yaml.MappingNode {
		return cloneNode(child)
	}
	out := cloneNode(base)
	for i := 0; i+1 < len(child.Content); i += 2 {
		k, v := child.Content[i], child.Content[i+1]
		replaced := false
		for j := 0; j+1 < len(out.Content); j += 2 {
			if out.Content[j].Value == k.Value {
				out.Content[j+1] = mergeNodes(out.Content[j+1], v)
				replaced = true
				break
			}
		}
		if !replaced {
			out.Content = append(out.Content, cloneNode(k), cloneNode(v))
		}
	}
	return out
}

// Render writes a resolved profile as YAML, units in their written form.
func Render(p *Profile) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("render profile %s: %w", p.Name, err)
	}
	return b.Bytes(), enc.Close()
}
