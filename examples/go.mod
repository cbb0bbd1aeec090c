module github.com/fluxloop/fluxloop-go/examples

go 1.26.0

require github.com/fluxloop/fluxloop-go/runtime v0.2.0

require github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab // indirect

replace github.com/fluxloop/fluxloop-go/runtime => ../runtime
