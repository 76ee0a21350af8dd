package scoring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/scoring"
)

// testOrg is a bank in Germany running PAN-OS and FortiOS, brand "acmebank".
var testOrg = scoring.Organisation{
	Sectors:  []string{"financial-services"},
	Regions:  []string{"germany", "DE"},
	Products: []string{"cpe:2.3:o:paloaltonetworks:pan-os:*:*:*:*:*:*:*:*", "fortinet:fortios", "exchange"},
	Brands:   []string{"acmebank"},
}

func TestRelevance(t *testing.T) {
	for name, tt := range map[string]struct {
		in      scoring.RelevanceInputs
		want    int
		reasons []string // kind/match of each reason, in order
	}{
		"nothing known": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1"}, 0, nil},
		"other sector":  {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1", Sectors: []string{"healthcare"}}, 0, nil},
		"our sector, other spelling": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Sectors: []string{"Financial Services"}}, 60, []string{"sector/financial-services"}},
		"region by MISP galaxy label": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Labels: []string{`misp-galaxy:country="germany"`}}, 40, []string{"region/germany"}},
		"region by code": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1", Regions: []string{"de"}}, 40, []string{"region/DE"}},
		"sector and region combine": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Sectors: []string{"financial-services"}, Regions: []string{"Germany"}}, 76, []string{"sector/financial-services", "region/germany"}},
		"vulnerability CPE": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Vulnerabilities: []scoring.Vulnerability{{CVE: "CVE-2024-3400", CPEs: []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.0:*:*:*:*:*:*:*"}}}},
			80, []string{"product/cpe:2.3:o:paloaltonetworks:pan-os:*:*:*:*:*:*:*:*"}},
		"vulnerability text": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Vulnerabilities: []scoring.Vulnerability{{CVE: "CVE-2024-21762", Text: "CVE-2024-21762 Fortinet FortiOS out-of-bounds write"}}},
			80, []string{"product/fortinet:fortios"}},
		"other vendor's product": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1",
			Vulnerabilities: []scoring.Vulnerability{{CVE: "CVE-2023-4966", Text: "Citrix NetScaler ADC information disclosure",
				CPEs: []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:*:*:*:*:*:*:*:*"}}}}, 0, nil},
		"product label":                    {scoring.RelevanceInputs{Type: "url", Value: "http://198.51.100.7/owa", Labels: []string{"Exchange"}}, 80, []string{"product/exchange"}},
		"brand in host":                    {scoring.RelevanceInputs{Type: "domain-name", Value: "login-acmebank.example"}, 90, []string{"brand/acmebank"}},
		"brand look-alike by homoglyph":    {scoring.RelevanceInputs{Type: "domain-name", Value: "acrnebank-secure.example"}, 80, []string{"brand/acmebank"}},
		"brand look-alike by one edit":     {scoring.RelevanceInputs{Type: "url", Value: "https://acmebnak.example/login"}, 80, []string{"brand/acmebank"}},
		"brand in URL path":                {scoring.RelevanceInputs{Type: "url", Value: "https://evil.example/acmebank/login.php"}, 60, []string{"brand/acmebank"}},
		"brand in e-mail domain":           {scoring.RelevanceInputs{Type: "email-addr", Value: "support@acmebank-help.example"}, 90, []string{"brand/acmebank"}},
		"brand in the TLD only is nothing": {scoring.RelevanceInputs{Type: "domain-name", Value: "shop.acmebank"}, 0, nil},
		"unrelated host":                   {scoring.RelevanceInputs{Type: "domain-name", Value: "example.org"}, 0, nil},
		"brand is not looked for in an IP": {scoring.RelevanceInputs{Type: "ipv4-addr", Value: "192.0.2.1", Labels: []string{"acmebank"}}, 0, nil},
		"everything": {scoring.RelevanceInputs{Type: "domain-name", Value: "acmebank-login.example", Sectors: []string{"financial-services"},
			Regions: []string{"germany"}, Labels: []string{"fortios"}}, 100, // 1 − 0.1×0.2×0.4×0.6 = 0.9952
			[]string{"brand/acmebank", "product/fortinet:fortios", "sector/financial-services", "region/germany"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := testOrg.Relevance(tt.in)
			if got.Value != tt.want {
				t.Fatalf("Relevance = %d, want %d (reasons %+v)", got.Value, tt.want, got.Reasons)
			}
			var kinds []string
			for _, r := range got.Reasons {
				kinds = append(kinds, r.Kind+"/"+r.Match)
				if r.Evidence == "" {
					t.Errorf("reason %s/%s has no evidence", r.Kind, r.Match)
				}
			}
			if strings.Join(kinds, " ") != strings.Join(tt.reasons, " ") {
				t.Fatalf("reasons %v, want %v", kinds, tt.reasons)
			}
		})
	}
}

func TestRelevanceEmptyProfile(t *testing.T) {
	var o scoring.Organisation
	got := o.Relevance(scoring.RelevanceInputs{Type: "domain-name", Value: "acmebank.example", Sectors: []string{"financial-services"}})
	if got.Value != 0 || len(got.Reasons) != 0 {
		t.Fatalf("empty profile: Relevance = %+v, want 0 and no reasons", got)
	}
}

func TestOrganisationValidate(t *testing.T) {
	if err := testOrg.Validate(); err != nil {
		t.Fatalf("Validate(testOrg) = %v", err)
	}
	for field, o := range map[string]scoring.Organisation{
		"organisation.sectors[0]":  {Sectors: []string{" "}},
		"organisation.regions[1]":  {Regions: []string{"DE", ""}},
		"organisation.products[0]": {Products: []string{"cpe:2.3:x"}},
		"organisation.brands[0]":   {Brands: []string{"a-b"}},
	} {
		err := o.Validate()
		if !errors.Is(err, scoring.ErrInvalidOrganisation) || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidOrganisation naming %s", o, err, field)
		}
	}
	if err := (&scoring.Organisation{Products: []string{"cpe:/a:vendor:product"}}).Validate(); err == nil {
		t.Error("a CPE 2.2 URI was accepted; want an error saying only CPE 2.3 names are read")
	}
}

func TestPrioritize(t *testing.T) {
	for _, tt := range []struct{ score, rel, want int }{
		{0, 100, 0}, {60, 0, 60}, {60, 100, 80}, {40, 50, 55}, {100, 100, 100}, {30, 100, 65},
	} {
		if got := scoring.Prioritize(tt.score, tt.rel); got != tt.want {
			t.Errorf("Prioritize(%d, %d) = %d, want %d", tt.score, tt.rel, got, tt.want)
		}
	}
	// Priority never lowers the score and grows with relevance.
	for s := 0; s <= 100; s += 7 {
		prev := -1
		for r := 0; r <= 100; r += 5 {
			p := scoring.Prioritize(s, r)
			if p < s || p < prev || p > 100 {
				t.Fatalf("Prioritize(%d, %d) = %d (previous %d)", s, r, p, prev)
			}
			prev = p
		}
	}
}

func TestResultWithRelevance(t *testing.T) {
	in := scoring.Inputs{Type: "domain-name", Value: "acmebank-login.example",
		Reports: []scoring.Report{{Feed: "rf", Reliability: 80, Verdict: scoring.Verdict{Severity: 0.9}, LastSeen: testTime}}}
	res := scoring.Score(in, scoring.DefaultWeights(), testTime)
	rel := testOrg.Relevance(scoring.RelevanceInputs{Type: in.Type, Value: in.Value})
	with := res.WithRelevance(rel)
	if with.Value != res.Value || with.Band != res.Band {
		t.Fatalf("WithRelevance changed the score: %d %s, want %d %s", with.Value, with.Band, res.Value, res.Band)
	}
	if with.Relevance == nil || with.Relevance.Value != 90 || with.Relevance.Priority != scoring.Prioritize(res.Value, 90) {
		t.Fatalf("Relevance = %+v, want value 90 and priority %d", with.Relevance, scoring.Prioritize(res.Value, 90))
	}
	var b strings.Builder
	if err := with.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "relevance 90, priority") || !strings.Contains(b.String(), `brand acmebank (0.9): brand "acmebank" in host acmebank-login.example`) {
		t.Fatalf("WriteText does not show the relevance and its reason:\n%s", b.String())
	}
	if res.Relevance != nil {
		t.Fatal("Score set Relevance; only WithRelevance should")
	}
}
