package fluxloop

import "testing"

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"https://h/p":                          "https://h/p",
		"https://h/p?x=1&y=2":                  "https://h/p?x=1&y=2",
		"https://h/p?token=t":                  "https://h/p?token=***",
		"https://h/p?x=1&api_key=k&y=2#token=": "https://h/p?x=1&api_key=***&y=2#token=",
		"https://h/p?x=1;access_token=k":       "https://h/p?x=1;access_token=***",
		"https://h/p?tok%65n=t&x=":             "https://h/p?tok%65n=***&x=",
		"https://h/p?token&x=1":                "https://h/p?token&x=1",
		"https://h/p?a=1&password=p&b=2&c=3":   "https://h/p?a=1&password=***&b=2&c=3",
		"?apiKey=1&apiKey=2":                   "?apiKey=***&apiKey=***",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
