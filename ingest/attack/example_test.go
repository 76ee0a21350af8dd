package attack_test

import (
	"fmt"

	"github.com/ctibroker/ctibroker/ingest/attack"
)

func ExampleIndex_Resolve() {
	ix, err := attack.Load("testdata/enterprise-attack-18.1-sample.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"T1059.001", "T1066", "S0154"} {
		r, _ := ix.Resolve(id)
		fmt.Println(id, "→", r.ExternalID, r.Type, r.Name, r.Revoked != "")
	}
	r, _ := ix.ResolveName("Fancy Bear")
	fmt.Println("Fancy Bear →", r.ExternalID, r.Name)
	// Output:
	// T1059.001 → T1059.001 attack-pattern PowerShell false
	// T1066 → T1027.005 attack-pattern Indicator Removal from Tools true
	// S0154 → S0154 malware Cobalt Strike false
	// Fancy Bear → G0007 APT28
}
