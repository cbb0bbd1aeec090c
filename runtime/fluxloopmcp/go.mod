module github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp

go 1.24.0

require (
	github.com/fluxloop/fluxloop-go/runtime v0.2.0
	github.com/modelcontextprotocol/go-sdk v1.1.0
)

require (
	github.com/google/jsonschema-go v0.3.0 // indirect
	github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/oauth2 v0.30.0 // indirect
)

replace github.com/fluxloop/fluxloop-go/runtime => ../
