// The reference for herald's filter dialect: Go's own regexp package, as Atlantis compiles
// workspace-regex and branch-regex (regexp.Compile). Reads one JSON case a line,
// {"pattern": P, "inputs": [S, ...]}, and writes one JSON line a case: {"error": TEXT} when
// Go refuses the pattern, else {"matches": [[start, end] or null, ...]} (byte offsets of the
// leftmost-first match in each input, as FindStringIndex gives them).
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
		}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
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
