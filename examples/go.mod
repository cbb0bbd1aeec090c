module github.com/fluxloop/fluxloop-go/examples

go 1.26.0

require (
	github.com/fluxloop/fluxloop-go/runtime v0.2.0
	github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp v0.2.0
	github.com/modelcontextprotocol/go-sdk v1.1.0
	github.com/openai/openai-go/v3 v3.98.0
)

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/google/jsonschema-go v0.3.0 // indirect
	github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/oauth2 v0.30.0 // indirect
)

replace github.com/fluxloop/fluxloop-go/runtime => ../runtime

replace github.com/fluxloop/fluxloop-go/runtime/fluxloopmcp => ../runtime/fluxloopmcp
