package bindings

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/cmd/bpf2go/gen"
)

// TypesFile is the registry's file of typed declarations.
const TypesFile = "types.go"

// Types returns the registry's types.go for a variant: bpf2go's Go types of
// the maps' keys and values and its DatapathObjects, DatapathPrograms,
// DatapathMaps and DatapathVariables structs, which a loaded collection
// fills with (*ebpf.Collection).Assign. It leaves out bpf2go's functions
// that load one embedded object: the registry serves every variant, and
// loading is bpf/loader's.
//
// Every variant of a build must give the same bytes (see Build), so that one
// set of types serves them all.
func Types(spec *ebpf.CollectionSpec) ([]byte, error) {
	var buf bytes.Buffer
	if err := gen.Generate(generateArgs("datapath", nil, spec, fileStem+".o", &buf)); err != nil {
		return nil, fmt.Errorf("generating the registry's types: %w", err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, TypesFile, buf.Bytes(), parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("generating the registry's types: %w", err)
	}
	// bpf2go's loaders of its one embedded object, and the embedding.
	drop := map[string]bool{
		"Load" + bindingsStem:             true,
		"Load" + bindingsStem + "Objects": true,
		"_" + bindingsStem + "Bytes":      true,
	}
	var removed []ast.Node
	var decls []ast.Decl
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if drop[d.Name.Name] {
				removed = append(removed, d)
				continue
			}
		case *ast.GenDecl:
			if d.Tok == token.VAR && len(d.Specs) == 1 {
				if vs, ok := d.Specs[0].(*ast.ValueSpec); ok && len(vs.Names) == 1 && drop[vs.Names[0].Name] {
					removed = append(removed, d)
					continue
				}
			}
			if d.Tok == token.IMPORT {
				var specs []ast.Spec
				for _, s := range d.Specs {
					path, _ := strconv.Unquote(s.(*ast.ImportSpec).Path.Value)
					switch path {
					case "bytes", "fmt", "embed": // used by the loaders only
						continue
					}
					specs = append(specs, s)
				}
				d.Specs = specs
			}
		}
		decls = append(decls, d)
	}
	if len(removed) != len(drop) {
		return nil, fmt.Errorf("generating the registry's types: bpf2go's output changed (found %d of %d loader declarations)", len(removed), len(drop))
	}
	f.Decls = decls
	// Their comments go with them.
	var comments []*ast.CommentGroup
	for _, c := range f.Comments {
		inside := false
		for _, n := range removed {
			start := n.Pos()
			if d, ok := n.(*ast.FuncDecl); ok && d.Doc != nil {
				start = d.Doc.Pos()
			}
			if d, ok := n.(*ast.GenDecl); ok && d.Doc != nil {
				start = d.Doc.Pos()
			}
			inside = inside || c.Pos() >= start && c.End() <= n.End()
		}
		if !inside {
			comments = append(comments, c)
		}
	}
	f.Comments = comments
	var out bytes.Buffer
	if err := format.Node(&out, fset, f); err != nil {
		return nil, fmt.Errorf("generating the registry's types: %w", err)
	}
	return format.Source(out.Bytes())
}

// TypesMismatchError is a variant whose Go types (map keys and values, or
// the program, map and variable structs) differ from the reference
// variant's: the registry's one set of types cannot serve it.
type TypesMismatchError struct {
	Variant, Reference string
}

func (e *TypesMismatchError) Error() string {
	return fmt.Sprintf("variant %q does not have the Go types of variant %q (the registry needs the same types in every variant): a define changes a map's key or value type", e.Variant, e.Reference)
}
