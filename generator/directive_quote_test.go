package generator

import (
	"strings"
	"testing"
)

// TestDirectiveQuotedName: a name with spaces works as a Go string literal,
// and unquoted it is refused with a message that says how to write it.
func TestDirectiveQuotedName(t *testing.T) {
	for _, tc := range []struct{ text, name, err string }{
		{`//fluxloop:trace name="my tool"`, "my tool", ""},
		{`//fluxloop:trace name="my tool" type=tool`, "my tool", ""},
		{"//fluxloop:trace name=`a \"b\" c`", `a "b" c`, ""},
		{`//fluxloop:trace name="tab\there"`, "tab\there", ""},
		{`//fluxloop:trace name="q"`, "q", ""},
		{`//fluxloop:trace	name=x`, "x", ""},
		{`//fluxloop:trace name=x  capture=none `, "x", ""},
		{`//fluxloop:trace name=my tool`, "", `a name with spaces must be quoted, as in name="my tool"`},
		{`//fluxloop:trace name="my tool`, "", `write it as a Go string literal, as in name="my tool"`},
		{`//fluxloop:trace name="my"tool`, "", `put a space after the closing quote`},
		{`//fluxloop:trace name=my"tool"`, "", `quote a value as a whole Go string literal`},
		{`//fluxloop:trace name=""`, "", `empty name= option`},
		{`//fluxloop:trace name`, "", `options are key=value`},
	} {
		d, err := parseDirective(tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if d.Name != tc.name {
			t.Errorf("%s: name %q, want %q", tc.text, d.Name, tc.name)
		}
	}
}
