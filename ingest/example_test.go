package ingest_test

import (
	"fmt"

	"github.com/ctibroker/ctibroker/ingest"
)

func ExampleNormalize() {
	for _, in := range []struct{ typ, value string }{
		{"hostname", "Evil[.]Bücher.Example."},
		{"ip", "2001:0DB8:0000:0000:0000:0000:0000:0001"},
		{"cidr", "198.51.100.77/24"},
		{"url", "hxxps://evil[.]example/Path?A=1"},
		{"hash", "D41D8CD98F00B204E9800998ECF8427E"},
		{"ipv4-addr", "010.1.1.1"},
	} {
		v, err := ingest.Normalize(in.typ, in.value)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(v.Kind(), v.Value)
	}
	// Output:
	// domain-name evil.xn--bcher-kva.example
	// ipv6-addr 2001:db8::1
	// ipv4-addr 198.51.100.0/24
	// url https://evil.example/Path?A=1
	// file:md5 d41d8cd98f00b204e9800998ecf8427e
	// error: ipv4-addr "010.1.1.1": not an address (leading zeros or octet out of range): invalid indicator value
}

func ExampleIndicatorID() {
	v, _ := ingest.Guess("198[.]51[.]100[.]3")
	fmt.Println(ingest.Pattern(v))
	fmt.Println(ingest.ObservableID(v))
	// Output:
	// [ipv4-addr:value = '198.51.100.3']
	// ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4
}
