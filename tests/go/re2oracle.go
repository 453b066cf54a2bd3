// The reference for herald's filter dialect: Go's own regexp package, as Atlantis compiles
// workspace-regex and branch-regex (regexp.Compile). Reads one JSON case a line,
// {"pattern": P, "inputs": [S, ...]}, and writes one JSON line a case: {"error": TEXT} when
// Go refuses the pattern, else {"matches": [[start, end] or null, ...]} (byte offsets of the
// leftmost-first match in each input, as FindStringIndex gives them). A line
// {"json": TEXT} asks what encoding/json says of TEXT as --webhook-http-headers:
// {"error": TEXT} for a syntax error, else {"ok": true}.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var c struct {
			Pattern string   `json:"pattern"`
			Inputs  []string `json:"inputs"`
			JSON    *string  `json:"json"`
		}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
		}
		if c.JSON != nil {
			var m map[string]interface{}
			err := json.Unmarshal([]byte(*c.JSON), &m)
			if _, syntax := err.(*json.SyntaxError); syntax {
				enc.Encode(map[string]interface{}{"error": err.Error()})
			} else {
				enc.Encode(map[string]interface{}{"ok": true})
			}
			continue
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			enc.Encode(map[string]interface{}{"error": err.Error()})
			continue
		}
		ms := make([][]int, len(c.Inputs))
		for i, s := range c.Inputs {
			ms[i] = re.FindStringIndex(s)
		}
		enc.Encode(map[string]interface{}{"matches": ms})
	}
}
