package fluxloopmcp

import (
	"fmt"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// item is what is recorded of a content item that is not text: its kind and
// what identifies it, never its data (an image is recorded by its MIME type
// and size, not its bytes).
type item struct {
	Type     string `json:"type"`
	MIMEType string `json:"mimeType,omitempty"`
	Size     int    `json:"size,omitempty"`
	URI      string `json:"uri,omitempty"`
	Name     string `json:"name,omitempty"`
	Text     string `json:"text,omitempty"`
}

// contentsOutput is the recorded form of a list of content items: the text of
// a single text item, else one entry per item (null for none).
func contentsOutput(cs []mcp.Content) fluxloop.Value {
	switch len(cs) {
	case 0:
		return fluxloop.Value{}
	case 1:
		return contentOutput(cs[0])
	}
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = content(c)
	}
	return fluxloop.V(out)
}

// contentOutput is the recorded form of one content item: a text item's text
// (captured without allocating), a summary of any other.
func contentOutput(c mcp.Content) fluxloop.Value {
	if t, ok := c.(*mcp.TextContent); ok && t != nil {
		return fluxloop.String(t.Text)
	}
	return fluxloop.V(content(c))
}

// content is the recorded form of one content item: a text item's text, a
// summary of any other.
func content(c mcp.Content) any {
	if nilPointer(c) {
		return nil
	}
	switch c := c.(type) {
	case *mcp.TextContent:
		return c.Text
	case *mcp.ImageContent:
		return item{Type: "image", MIMEType: c.MIMEType, Size: len(c.Data)}
	case *mcp.AudioContent:
		return item{Type: "audio", MIMEType: c.MIMEType, Size: len(c.Data)}
	case *mcp.ResourceLink:
		return item{Type: "resource_link", URI: c.URI, Name: c.Name, MIMEType: c.MIMEType}
	case *mcp.EmbeddedResource:
		it := item{Type: "resource"}
		if r := c.Resource; r != nil {
			it.URI, it.MIMEType, it.Text, it.Size = r.URI, r.MIMEType, r.Text, len(r.Blob)
		}
		return it
	}
	return item{Type: fmt.Sprintf("%T", c)}
}

// resourcesOutput is the recorded form of the contents of a resources/read
// result: the text of a single text resource, else a summary per resource.
func resourcesOutput(rs []*mcp.ResourceContents) fluxloop.Value {
	if len(rs) == 1 && rs[0] != nil && rs[0].Blob == nil {
		return fluxloop.String(rs[0].Text)
	}
	out := make([]item, 0, len(rs))
	for _, r := range rs {
		if r != nil {
			out = append(out, item{Type: "resource", URI: r.URI, MIMEType: r.MIMEType, Text: r.Text, Size: len(r.Blob)})
		}
	}
	return fluxloop.V(out)
}

// message is the recorded form of a prompt or sampling message.
type message struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

func promptMessages(ms []*mcp.PromptMessage) []message {
	out := make([]message, 0, len(ms))
	for _, m := range ms {
		if m != nil {
			out = append(out, message{Role: string(m.Role), Content: content(m.Content)})
		}
	}
	return out
}

func samplingMessages(ms []*mcp.SamplingMessage) []message {
	out := make([]message, 0, len(ms))
	for _, m := range ms {
		if m != nil {
			out = append(out, message{Role: string(m.Role), Content: content(m.Content)})
		}
	}
	return out
}
