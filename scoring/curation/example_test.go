package curation_test

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// A curated collection's selection as the config writes it, and the tier
// collections that serve it to consumers with narrower limits.
func ExampleTiers() {
	const config = `
min_band: high
value_types: [ipv4-addr, domain-name]
max_age: 720h
`
	dec := yaml.NewDecoder(strings.NewReader(config))
	dec.KnownFields(true)
	var sel curation.Selection
	if err := dec.Decode(&sel); err != nil {
		fmt.Println(err)
		return
	}
	w := scoring.DefaultWeights()
	floor, err := curation.Floor(&w, sel)
	fmt.Println(sel.Validate(), floor, err, sel.MaxAge)

	partner := curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen}
	soc := curation.Unlimited
	for _, t := range curation.Tiers("alerts", sel, partner, soc) {
		fmt.Printf("%s share=%q max_tlp=%q\n", t.Collection, t.Selection.Share, t.Selection.MaxTLP)
	}
	fmt.Println(curation.TierID("alerts", sel, partner))
	// Output:
	// <nil> 60 <nil> 720h0m0s
	// alerts share="" max_tlp=""
	// alerts~partners~green share="partners" max_tlp="green"
	// alerts~partners~green
}
