module github.com/fluxloop/fluxloop-go/runtime

go 1.24.0

require github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab
