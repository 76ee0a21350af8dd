package stixfeed

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

// relatedFields are what Relate reads of a batch's objects beyond Common.
type relatedFields struct {
	Name             string   `json:"name"`
	RelationshipType string   `json:"relationship_type"`
	SourceRef        string   `json:"source_ref"`
	TargetRef        string   `json:"target_ref"`
	ObjectRefs       []string `json:"object_refs"`
}

var cveName = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// Relate gives each observation of b the context its indicator has in the
// batch, as the received graph states it (never guessed from text): the
// targets of the indicator's `indicates` relationships — malware and tools
// become Context.Malware, intrusion sets and threat actors Context.Actors,
// attack patterns with a mitre-attack external id Context.AttackIDs,
// vulnerabilities named CVE-… Context.CVEs — and the reports and groupings
// listing the indicator in object_refs Context.ReportRefs. The Runner then
// relates ctibroker's indicator of the value to the same context. Both ends
// must be in b: a relationship whose indicator or target arrived in another
// batch (a bundle larger than the batch size, another TAXII page) adds nothing.
func (c *Converter) Relate(b *ingest.Batch) {
	if len(b.Observations) == 0 {
		return
	}
	obs := map[string][]int{} // indicator id → observations
	for i, o := range b.Observations {
		var v struct {
			Indicator string `json:"indicator"`
		}
		if json.Unmarshal(o.Verdict, &v) == nil && v.Indicator != "" {
			obs[v.Indicator] = append(obs[v.Indicator], i)
		}
	}
	if len(obs) == 0 {
		return
	}
	type node struct {
		typ, name, attackID string
	}
	nodes := map[string]node{}
	var rels, reports []relatedFields
	for _, obj := range b.Objects {
		o, ok := obj.(*stix.RawObject) // what Add appends; other objects carry no received graph
		if !ok {
			continue
		}
		var f relatedFields
		switch o.Type {
		case "malware", "tool", "intrusion-set", "threat-actor", "attack-pattern", "vulnerability":
			if json.Unmarshal(o.JSON, &f) != nil {
				continue
			}
			n := node{typ: o.Type, name: strings.TrimSpace(f.Name)}
			for _, r := range o.ExternalReferences {
				if r.SourceName == "mitre-attack" && r.ExternalID != "" {
					n.attackID = r.ExternalID
				}
			}
			nodes[o.ID] = n
		case "relationship":
			if json.Unmarshal(o.JSON, &f) == nil && f.RelationshipType == "indicates" {
				rels = append(rels, f)
			}
		case "report", "grouping":
			if json.Unmarshal(o.JSON, &f) == nil {
				f.Name = o.ID
				reports = append(reports, f)
			}
		}
	}
	add := func(ind string, fn func(ctx *ingest.Context)) {
		for _, i := range obs[ind] {
			fn(&b.Observations[i].Context)
		}
	}
	for _, r := range rels {
		n, ok := nodes[r.TargetRef]
		if !ok || n.name == "" && n.attackID == "" {
			continue
		}
		add(r.SourceRef, func(ctx *ingest.Context) {
			switch n.typ {
			case "malware", "tool":
				ctx.Malware = appendNew(ctx.Malware, n.name)
			case "intrusion-set", "threat-actor":
				ctx.Actors = appendNew(ctx.Actors, n.name)
			case "attack-pattern":
				ctx.AttackIDs = appendNew(ctx.AttackIDs, n.attackID)
			case "vulnerability":
				if up := strings.ToUpper(n.name); cveName.MatchString(up) {
					ctx.CVEs = appendNew(ctx.CVEs, up)
				}
			}
		})
	}
	for _, r := range reports {
		for _, ref := range r.ObjectRefs {
			if stix.IDType(ref) == "indicator" {
				add(ref, func(ctx *ingest.Context) { ctx.ReportRefs = appendNew(ctx.ReportRefs, r.Name) })
			}
		}
	}
}

func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
