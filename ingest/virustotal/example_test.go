package virustotal_test

import (
	"fmt"
	"strings"

	"github.com/ctibroker/ctibroker/ingest/virustotal"
)

// ExampleConvertFile converts a file report: its hashes become observations,
// detection-worthy from 47 engines, with VirusTotal's family suggestion as
// context.
func ExampleConvertFile() {
	report := `{"data": {"type": "file", "id": "4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b",
	  "attributes": {"sha256": "4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b",
	    "md5": "546bb6ef89bebfb053999777f6930d7e", "last_analysis_date": 1636440506,
	    "last_analysis_stats": {"harmless": 0, "malicious": 47, "suspicious": 0, "undetected": 18, "timeout": 2},
	    "popular_threat_classification": {"suggested_threat_label": "trojan.dllhijacker/cometer"}}}}`
	_, obs, _, err := virustotal.ConvertFile(strings.NewReader(report), virustotal.Options{Feed: "vt"})
	if err != nil {
		panic(err)
	}
	for _, o := range obs {
		fmt.Println(o.Type, o.Value, o.Detect, o.Context.Malware)
	}
	// Output:
	// file:sha-256 4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b true [dllhijacker cometer]
	// file:md5 546bb6ef89bebfb053999777f6930d7e true [dllhijacker cometer]
}
