package generator

import (
	"fmt"
	"go/ast"
	"strconv"
	"strings"

	"github.com/dave/dst"
)

// Sites. Every instrumented function has an observation site, a package
// variable holding its name, type and parameter names, declared in one block
// at the end of the file, where it shifts no line of user code.

// siteName gives a function its site variable, unique in the package.
func (g *packageRewriter) siteName(fd *ast.FuncDecl) string {
	base := fd.Name.Name
	if fd.Recv != nil && len(fd.Recv.List) > 0 {
		base = receiverTypeName(fd.Recv.List[0].Type) + "_" + base
	}
	name := sitePrefix + base
	for n := 2; g.taken[name]; n++ {
		name = sitePrefix + base + "_" + strconv.Itoa(n)
	}
	g.taken[name] = true
	return name
}

// siteSpec is the observation site of an instrumented function.
type siteSpec struct {
	name    string   // variable name
	fields  []string // the Site literal's fields, as source, but Offset
	offset  int      // Site.Offset (in place only)
	oneLine bool     // the body is on one line in the source
}

// src is the site's variable spec, as source.
func (s *siteSpec) src() string {
	fields := s.fields
	if s.offset != 0 {
		fields = append(fields[:len(fields):len(fields)], "Offset: "+strconv.Itoa(s.offset))
	}
	src := fmt.Sprintf("%s = %s.Site{%s}", s.name, pkgPlaceholder, strings.Join(fields, ", "))
	if s.oneLine {
		src += " " + oneLineComment
	}
	return src
}

// addSite adds the site of a function. offset is a guess of Site.Offset,
// which setOffsets corrects.
func (fr *fileRewriter) addSite(site, name string, d *Directive, keys []string, oneLine bool, offset int) {
	fields := []string{
		"Name: " + strconv.Quote(name),
		"Type: " + pkgPlaceholder + "." + observationTypes[d.Type],
	}
	if len(keys) > 0 {
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = strconv.Quote(k)
		}
		fields = append(fields, "Params: []string{"+strings.Join(quoted, ", ")+"}")
	}
	if fr.mapLines {
		offset = 0 // a //line directive maps the Enter call to the func line
	}
	fr.sites = append(fr.sites, &siteSpec{name: site, fields: fields, offset: offset, oneLine: oneLine})
}

// addSites appends the version guard (version.go) and the block of site
// variables to the end of the file, where they shift no line of user code.
// The guard goes first: the compiler stops after ten errors, and it checks
// the package-level declarations, in order, before the function bodies, so
// against an incompatible runtime the guard's error comes before those of
// the sites and the injected statements and is among those it reports.
func (fr *fileRewriter) addSites() {
	if len(fr.sites) == 0 {
		return
	}
	guard := guardTemplate()
	guard.Decs.Before, guard.Decs.After = dst.EmptyLine, dst.EmptyLine
	fr.df.Decls = append(fr.df.Decls, guard)
	gd := fr.sitesTemplate()
	fr.sitesDecl = gd
	gd.Decs.Before = dst.EmptyLine
	gd.Decs.Start = dst.Decorations{sitesComment}
	gd.Decs.After = dst.NewLine
	// Comments at the end of the file stay at the end, after the sites.
	if n := len(fr.df.Decls); n > 1 {
		last := fr.df.Decls[n-2].Decorations() // the one before the guard
		for i, d := range last.End {
			if d == "\n" {
				gd.Decs.End = append(dst.Decorations(nil), last.End[i:]...)
				last.End = last.End[:i]
				break
			}
		}
	}
	fr.df.Decls = append(fr.df.Decls, gd)
}

// sitesTemplate is the declaration of the site variables.
func (fr *fileRewriter) sitesTemplate() *dst.GenDecl {
	specs := make([]string, len(fr.sites))
	for i, s := range fr.sites {
		specs[i] = s.src()
	}
	src := "package p\n\nvar (\n" + strings.Join(specs, "\n") + "\n)\n"
	df, err := parseTemplate(src)
	if err != nil {
		panic(fmt.Sprintf("site template: %v", err)) // names and literals are generated: a bug
	}
	return df.Decls[0].(*dst.GenDecl)
}

// guardTemplate is the declaration of the version guard.
func guardTemplate() *dst.GenDecl {
	src := "package p\n\nconst _ = " + pkgPlaceholder + "." + guardConst + " " + guardComment + "\n"
	df, err := parseTemplate(src)
	if err != nil {
		panic(fmt.Sprintf("guard template: %v", err)) // generated: a bug
	}
	return df.Decls[0].(*dst.GenDecl)
}
