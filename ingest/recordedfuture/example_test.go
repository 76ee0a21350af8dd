package recordedfuture_test

import (
	"fmt"
	"os"

	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
)

// ExampleConvertFile converts a risk list as `ctibroker convert --provider
// recordedfuture FILE` does: values at or above the threshold get an indicator
// (Detect), the others are recorded as observables.
func ExampleConvertFile() {
	f, err := os.Open("testdata/ip_default/input.csv")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	objs, obs, warns, err := recordedfuture.ConvertFile(f, recordedfuture.Options{Feed: "rf-ip", Entity: recordedfuture.EntityIP})
	if err != nil {
		panic(err)
	}
	for _, o := range obs {
		fmt.Println(o.Type, o.Value, o.Detect, o.Context.TLP)
	}
	fmt.Println(len(objs), "objects,", len(warns), "warnings")
	// Output:
	// ipv4-addr 198.51.100.23 true amber
	// ipv6-addr 2001:db8::42 true amber
	// ipv4-addr 203.0.113.7 true amber
	// ipv4-addr 192.0.2.200 false amber
	// 2 objects, 0 warnings
}
