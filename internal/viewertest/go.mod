module github.com/fluxloop/fluxloop-go/internal/viewertest

go 1.26.0

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/fluxloop/fluxloop-go v0.2.0
	github.com/fluxloop/fluxloop-go/runtime v0.2.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/petermattis/goid v0.0.0-20261109124353-7cfa343ad0ab // indirect
)

replace (
	github.com/fluxloop/fluxloop-go => ../..
	github.com/fluxloop/fluxloop-go/runtime => ../../runtime
)
