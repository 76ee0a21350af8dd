package maltiverse_test

import (
	"fmt"
	"strings"

	"github.com/ctibroker/ctibroker/ingest/maltiverse"
)

// ExampleConvertFile converts a collection download: one observation per value,
// the native fields in its verdict, and warnings for what cannot be used.
func ExampleConvertFile() {
	download := `[
	  {"type": "ip", "ip_addr": "203.0.113.5", "classification": "malicious",
	   "modification_time": "2026-03-10 08:30:00", "tag": ["mirai"],
	   "blacklist": [{"source": "Blocklist.de", "description": "Mirai", "first_seen": "2026-03-09 00:00:00", "last_seen": "2026-03-10 08:30:00"}]},
	  {"type": "hostname", "hostname": "n/a", "classification": "malicious"}
	]`
	_, obs, warns, err := maltiverse.ConvertFile(strings.NewReader(download), maltiverse.Options{Feed: "maltiverse-c2"})
	if err != nil {
		panic(err)
	}
	for _, o := range obs {
		fmt.Println(o.Type, o.Value, o.Detect, o.Context.Malware, o.Seen.Format("2006-01-02"))
	}
	for _, w := range warns {
		fmt.Println(w)
	}
	// Output:
	// ipv4-addr 203.0.113.5 true [Mirai] 2026-03-10
	// maltiverse-c2: record 1 (hostname n/a): hostname: placeholder "n/a" instead of a value
}
