package pattern_test

import (
	"fmt"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

func ExampleParse() {
	p, err := pattern.Parse(`[file:hashes.'SHA-256' == 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] FOLLOWEDBY ([url:value LIKE '%/login'] OR [url:value = 'http://example.com/it\'s']) WITHIN 300 SECONDS`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	for _, c := range p.Comparisons() {
		fmt.Printf("%s | %s | %s | %s\n", c.Path.ObjectType, c.Path.Property(), c.Op, c.Value.Text())
	}

	_, err = pattern.Parse("[file:size = ]")
	fmt.Println(err)
	// Output:
	// [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] FOLLOWEDBY ([url:value LIKE '%/login'] OR [url:value = 'http://example.com/it\'s']) WITHIN 300 SECONDS
	// file | hashes.'SHA-256' | = | aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f
	// url | value | LIKE | %/login
	// url | value | = | http://example.com/it's
	// column 14: expected a literal, found ']'
}

func ExampleParseWithLimits() {
	_, err := pattern.ParseWithLimits("[(a:b = 1)]", pattern.Limits{MaxDepth: 1})
	fmt.Println(err, "/", err.(*pattern.Error).Limit)
	// Output:
	// column 2: pattern nests deeper than MaxDepth 1 / MaxDepth
}

func ExampleEquals() {
	fmt.Println(pattern.Equals("domain-name", "value", "example.com"))
	fmt.Println(pattern.Equals("file", "hashes.SHA-256", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"))
	fmt.Println(pattern.Equals("file", "name", `C:\it's.exe`))
	// Output:
	// [domain-name:value = 'example.com']
	// [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']
	// [file:name = 'C:\\it\'s.exe']
}

func ExampleOr() {
	a, _ := pattern.EqualsComparison("ipv4-addr", "value", "198.51.100.7")
	b, _ := pattern.EqualsComparison("ipv6-addr", "value", "2001:db8::7")
	fmt.Println(pattern.Or(a, b))
	// Output:
	// [ipv4-addr:value = '198.51.100.7' OR ipv6-addr:value = '2001:db8::7']
}

func ExampleSimple() {
	typ, path, value, ok := pattern.Simple(`[file:name = 'C:\\it\'s.exe']`)
	fmt.Println(typ, path, value, ok)
	_, _, _, ok = pattern.Simple(`[file:name = 'a' OR file:name = 'b']`)
	fmt.Println(ok)
	// Output:
	// file name C:\it's.exe true
	// false
}
