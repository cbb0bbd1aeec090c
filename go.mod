module github.com/fluxloop/fluxloop-go

go 1.26.0

require (
	github.com/dave/dst v0.28.0
	github.com/fluxloop/fluxloop-go/runtime v0.2.0
	github.com/rogpeppe/go-internal v1.16.0
	golang.org/x/mod v0.42.0
	golang.org/x/tools v0.52.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/fluxloop/fluxloop-go/runtime => ./runtime
