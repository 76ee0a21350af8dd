// Command gen writes ctibroker's labelled evaluation corpus: benign.tsv,
// malicious.tsv, sources.tsv and four synthetic feeds in the providers' own
// formats (Recorded Future risk lists, a Maltiverse collection download, an
// OTX subscribed-pulses page, a MISP feed). It is deterministic (fixed seed
// and clock), so rerunning it reproduces the committed files:
//
//	go run ./scoring/testdata/eval/gen -out scoring/testdata/eval
//
// It checks its own labels against the embedded warninglists: every value
// in the "listed" benign group must hit a list that caps the score, every
// "unlisted" benign value and every malicious value must hit none.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// now is the corpus's "present": evaluate with asOf = now.
var now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

var feeds = []string{"recordedfuture", "maltiverse", "otx", "misp"}

type value struct {
	typ, val string
	label    string // malicious, benign-listed, benign-unlisted
	group    string // what kind of value, for sources.tsv
	feeds    []string
	strong   bool // benign values reported with a strong verdict (the classic false positive)
	first    time.Time
	last     time.Time
	campaign int
}

type gen struct {
	r   *rand.Rand
	set *warninglist.Set
}

func (g *gen) capped(typ, v string) []string {
	var lists []string
	for _, h := range g.set.Match(typ, v) {
		if !h.ContextOnly {
			lists = append(lists, h.List)
		}
	}
	return lists
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) hex(n int) string {
	b := make([]byte, n/2)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return hex.EncodeToString(b)
}

var words = []string{"secure", "login", "verify", "account", "update", "portal", "cloud", "docs", "invoice",
	"billing", "support", "service", "online", "auth", "wallet", "track", "delivery", "parcel", "office",
	"mail", "drive", "share", "sync", "connect", "access", "web", "app", "cdn", "static", "api", "check",
	"notify", "alert", "payment", "client", "center", "hub", "zone", "direct", "express", "signin", "review",
	"recovery", "safety", "host", "files", "storage", "media", "stats", "metrics", "telemetry", "panel"}
var tlds = []string{"com", "com", "com", "net", "net", "org", "info", "top", "xyz", "online", "site", "shop",
	"live", "click", "icu", "ru", "su", "cc", "biz", "pw", "store", "fun", "cyou", "buzz"}
var abusedParents = []string{"duckdns.org", "ddns.net", "no-ip.biz", "github.io", "workers.dev", "pages.dev",
	"herokuapp.com", "blogspot.com", "firebaseapp.com", "web.app", "ngrok.io", "azurewebsites.net"}
var firstOctets = []int{5, 31, 37, 45, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93,
	94, 95, 103, 109, 111, 115, 117, 121, 141, 146, 171, 176, 178, 180, 182, 185, 186, 188, 189, 190, 193, 194,
	195, 196, 197, 201, 211, 212, 213, 217, 222}

func (g *gen) domain() string {
	switch g.r.IntN(10) {
	case 0, 1: // DGA-like
		n := 9 + g.r.IntN(7)
		b := make([]byte, n)
		for i := range b {
			if g.r.IntN(5) == 0 {
				b[i] = byte('0' + g.r.IntN(10))
			} else {
				b[i] = byte('a' + g.r.IntN(26))
			}
		}
		return string(b) + "." + g.pick([]string{"com", "net", "top", "xyz", "info", "ru", "biz"})
	case 2: // a host below an abused platform's public suffix
		return g.pick(words) + "-" + g.pick(words) + strconv.Itoa(g.r.IntN(100)) + "." + g.pick(abusedParents)
	case 3: // a sub-domain of a malicious registrable domain
		return g.pick([]string{"mail", "cdn", "api", "portal", "update", "secure"}) + "." + g.pick(words) + "-" + g.pick(words) + "." + g.pick(tlds)
	}
	d := g.pick(words) + "-" + g.pick(words)
	if g.r.IntN(3) == 0 {
		d += strconv.Itoa(1 + g.r.IntN(99))
	}
	return d + "." + g.pick(tlds)
}

func (g *gen) ip() string {
	a := netip.AddrFrom4([4]byte{byte(g.pick2(firstOctets)), byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))})
	return a.String()
}

func (g *gen) pick2(xs []int) int { return xs[g.r.IntN(len(xs))] }

func main() {
	out := flag.String("out", "scoring/testdata/eval", "output directory")
	flag.Parse()
	set, err := warninglist.Embedded()
	if err != nil {
		log.Fatal(err)
	}
	g := &gen{r: rand.New(rand.NewPCG(2026, 11)), set: set}
	mal := g.malicious()
	ben := g.benign()
	all := append(append([]*value(nil), mal...), ben...)
	for _, v := range all {
		if len(v.feeds) == 0 {
			log.Fatalf("%s %s: in no feed", v.typ, v.val)
		}
	}
	must(os.MkdirAll(*out, 0o755))
	writeTSV(filepath.Join(*out, "malicious.tsv"), mal)
	writeTSV(filepath.Join(*out, "benign.tsv"), ben)
	writeSources(filepath.Join(*out, "sources.tsv"), all)
	g.writeRF(filepath.Join(*out, "recordedfuture"), all)
	g.writeMaltiverse(filepath.Join(*out, "maltiverse"), all)
	g.writeOTX(filepath.Join(*out, "otx"), all)
	g.writeMISP(filepath.Join(*out, "misp"), all)
	multi := 0
	for _, v := range mal {
		if len(v.feeds) >= 2 {
			multi++
		}
	}
	listed := 0
	for _, v := range ben {
		if v.label == "benign-listed" {
			listed++
		}
	}
	fmt.Printf("malicious %d (%d in two or more feeds), benign %d (%d on capping lists)\n", len(mal), multi, len(ben), listed)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// malicious draws 220 fictional values and spreads them over the feeds:
// 120 in two to four feeds, 100 in one.
func (g *gen) malicious() []*value {
	seen := map[string]bool{}
	var vs []*value
	add := func(typ, v, group string) bool {
		if seen[v] {
			return false
		}
		if c := g.capped(typ, v); len(c) > 0 {
			return false // an allow-listed draw would not be a fair malicious label
		}
		seen[v] = true
		vs = append(vs, &value{typ: typ, val: v, label: "malicious", group: group})
		return true
	}
	var domains []string
	for n := 0; n < 90; {
		d := g.domain()
		if add("domain-name", d, "domain") {
			domains = append(domains, d)
			n++
		}
	}
	for n := 0; n < 70; {
		if add("ipv4-addr", g.ip(), "ipv4") {
			n++
		}
	}
	for n := 0; n < 30; {
		if add("file:sha256", g.hex(64), "sha256") {
			n++
		}
	}
	for n := 0; n < 10; {
		if add("file:md5", g.hex(32), "md5") {
			n++
		}
	}
	paths := []string{"/login.php", "/wp-admin/css/update.php", "/gate.php", "/invoice/view", "/secure/verify",
		"/dl/setup.exe", "/api/v2/check", "/index.html", "/panel/admin.php", "/files/doc.zip", "/o365/signin"}
	for n := 0; n < 20; {
		host := domains[g.r.IntN(len(domains))]
		scheme := "http"
		if g.r.IntN(2) == 0 {
			scheme = "https"
		}
		if add("url", scheme+"://"+host+g.pick(paths), "url") {
			n++
		}
	}
	// Feeds: the first 15 in four, 35 in three, 70 in two, the rest in one;
	// md5 values only where md5 is carried (not Maltiverse).
	g.r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	for i, v := range vs {
		n := 1
		switch {
		case i < 15:
			n = 4
		case i < 50:
			n = 3
		case i < 120:
			n = 2
		}
		choices := feeds
		if v.typ == "file:md5" {
			choices = []string{"recordedfuture", "otx", "misp"}
			n = min(n, 3)
		}
		perm := g.r.Perm(len(choices))
		for _, p := range perm[:n] {
			v.feeds = append(v.feeds, choices[p])
		}
		sort.Strings(v.feeds)
		v.campaign = g.r.IntN(8)
		age := time.Duration(g.r.IntN(10*24)) * time.Hour
		if g.r.IntN(10) == 0 {
			age = time.Duration(15*24+g.r.IntN(30*24)) * time.Hour // an older value
		}
		v.last = now.Add(-age - time.Duration(g.r.IntN(3600))*time.Second)
		v.first = v.last.Add(-time.Duration(g.r.IntN(20*24)) * time.Hour)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].typ+vs[i].val < vs[j].typ+vs[j].val })
	return vs
}

// benign returns values from the warninglists and well-known
// infrastructure, plus legitimate domains on no embedded list.
func (g *gen) benign() []*value {
	listed := map[string][]string{
		"ipv4-addr": {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
			"208.67.220.220", "94.140.14.14", "185.228.168.9", "10.0.2.15", "10.10.10.10", "172.16.0.5",
			"192.168.0.1", "192.168.1.254", "192.168.56.101", "127.0.0.1", "169.254.169.254", "100.64.0.1",
			"0.0.0.0", "255.255.255.255", "224.0.0.251", "239.255.255.250", "192.0.2.10", "198.51.100.23",
			"203.0.113.50", "104.16.132.229", "104.17.24.14", "172.67.70.213", "162.159.136.232",
			"151.101.1.69", "151.101.65.140", "146.75.120.84", "23.32.3.10", "104.244.12.1", "104.155.11.149",
			"106.187.96.49", "109.74.196.143", "128.14.246.28", "13.107.213.69"},
		"ipv6-addr": {"2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111", "2620:fe::fe",
			"fe80::1", "::1", "ff02::fb", "2001:db8::1"},
		"domain-name": {"google.com", "www.google.com", "mail.google.com", "microsoft.com", "www.microsoft.com",
			"login.microsoftonline.com", "outlook.office365.com", "update.microsoft.com", "windowsupdate.com",
			"ctldl.windowsupdate.com", "time.windows.com", "github.com", "raw.githubusercontent.com",
			"amazon.com", "s3.amazonaws.com", "apple.com", "www.apple.com", "captive.apple.com",
			"connectivitycheck.gstatic.com", "clients3.google.com", "www.msftconnecttest.com", "facebook.com",
			"www.facebook.com", "youtube.com", "www.youtube.com", "wikipedia.org", "en.wikipedia.org",
			"cloudflare.com", "www.cloudflare.com", "akamai.net", "akamaiedge.net", "fastly.net", "twitter.com",
			"x.com", "linkedin.com", "www.linkedin.com", "instagram.com", "netflix.com", "zoom.us", "slack.com",
			"dropbox.com", "office.com", "www.office.com", "live.com", "outlook.com", "bing.com", "yahoo.com",
			"adobe.com", "mozilla.org", "ocsp.digicert.com", "crl.microsoft.com", "ocsp.pki.goog", "c.pki.goog",
			"ocsp.sectigo.com", "crl3.digicert.com", "api.ipify.org", "icanhazip.com", "ipinfo.io",
			"checkip.amazonaws.com", "ifconfig.me", "example.com", "example.net", "example.org", "localhost",
			"dns.google", "one.one.one.one", "cdn.jsdelivr.net", "ajax.googleapis.com", "fonts.googleapis.com",
			"www.gstatic.com", "docs.google.com", "drive.google.com", "teams.microsoft.com", "www.bing.com",
			"paypal.com", "www.paypal.com", "ebay.com", "reddit.com", "www.reddit.com", "stackoverflow.com",
			"python.org", "pypi.org", "npmjs.com", "www.npmjs.com", "golang.org", "go.dev", "ubuntu.com",
			"archive.ubuntu.com", "debian.org", "www.virustotal.com", "virustotal.com", "any.run",
			"hybrid-analysis.com", "urlscan.io", "www.welivesecurity.com", "unit42.paloaltonetworks.com",
			"blog.talosintelligence.com", "www.proofpoint.com", "securelist.com", "www.mandiant.com"},
		"url": {"https://www.google.com/", "https://github.com/", "http://www.msftconnecttest.com/connecttest.txt",
			"http://ocsp.digicert.com/", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			"https://www.microsoft.com/en-us/download", "https://api.ipify.org/?format=json",
			"http://connectivitycheck.gstatic.com/generate_204", "https://raw.githubusercontent.com/",
			"https://en.wikipedia.org/wiki/Main_Page", "https://www.youtube.com/", "https://docs.google.com/document/",
			"http://192.168.1.1/", "http://10.0.0.1:8080/", "https://dns.google/resolve?name=example.com",
			"https://www.virustotal.com/gui/home"},
		"file:md5":    {"d41d8cd98f00b204e9800998ecf8427e", "44d88612fea8a8f36de82e1278abb02f"},
		"file:sha256": {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad"},
	}
	// Legitimate domains expected on no embedded list (universities,
	// banks, small public institutions); kept only when that holds.
	unlisted := []string{"uni-heidelberg.de", "ethz.ch", "kuleuven.be", "uva.nl", "tu-berlin.de", "uio.no",
		"helsinki.fi", "unibo.it", "ucl.ac.uk", "ed.ac.uk", "anu.edu.au", "utoronto.ca", "epfl.ch", "tum.de",
		"kth.se", "dtu.dk", "uniba.sk", "cvut.cz", "ut.ee", "lu.lv", "sparkasse-heidelberg.de", "raiffeisen.ch",
		"volksbank-mittelhessen.de", "rabobank.nl", "nordea.fi", "danskebank.dk", "kbc.be", "bcv.ch",
		"postfinance.ch", "caixabank.es", "bundesbank.de", "riksbank.se", "snb.ch", "ecb.europa.eu",
		"bsi.bund.de", "ncsc.gov.uk", "cert.europa.eu", "enisa.europa.eu", "circl.lu", "first.org"}
	var vs []*value
	seen := map[string]bool{}
	for _, typ := range []string{"ipv4-addr", "ipv6-addr", "domain-name", "url", "file:md5", "file:sha256"} {
		for _, v := range listed[typ] {
			if c := g.capped(typ, v); len(c) == 0 {
				log.Printf("skip benign %s %s: on no capping list", typ, v)
				continue
			}
			seen[v] = true
			vs = append(vs, &value{typ: typ, val: v, label: "benign-listed", group: typ})
		}
	}
	// Sample more from the lists: public resolvers, sinkholes, common
	// false-positive hashes, top domains.
	sample := func(list, typ string, n int, ok func(string) bool) {
		l, err := warninglist.EmbeddedLists()
		must(err)
		for _, x := range l {
			if x.ID != list {
				continue
			}
			idx := g.r.Perm(len(x.Entries))
			for _, i := range idx {
				if n == 0 {
					return
				}
				e := strings.ToLower(x.Entries[i])
				if seen[e] || !ok(e) || len(g.capped(typ, e)) == 0 {
					continue
				}
				seen[e] = true
				vs = append(vs, &value{typ: typ, val: e, label: "benign-listed", group: list})
				n--
			}
		}
	}
	isAddr := func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() }
	sample("public-dns-v4", "ipv4-addr", 12, isAddr)
	sample("sinkholes", "ipv4-addr", 6, isAddr)
	sample("ti-falsepositives", "file:sha256", 8, func(s string) bool { return len(s) == 64 })
	sample("ti-falsepositives", "file:md5", 4, func(s string) bool { return len(s) == 32 })
	sample("tranco10k", "domain-name", 20, func(s string) bool { return g.set.RegistrableDomain(s) == s })
	n := 0
	for _, d := range unlisted {
		if len(g.set.Match("domain-name", d)) > 0 || seen[d] {
			continue
		}
		seen[d] = true
		vs = append(vs, &value{typ: "domain-name", val: d, label: "benign-unlisted", group: "legitimate-unlisted"})
		n++
	}
	// Feeds: a listed value in one or two feeds, a third of them with a
	// strong verdict (sandbox noise, over-eager extraction); an unlisted
	// legitimate domain in one feed with a weak verdict only.
	for _, v := range vs {
		k := 1
		if v.label == "benign-listed" && g.r.IntN(3) == 0 {
			k = 2
		}
		choices := feeds
		if strings.HasPrefix(v.typ, "file:md5") || v.typ == "ipv6-addr" {
			choices = []string{"recordedfuture", "otx", "misp"}
		}
		for _, p := range g.r.Perm(len(choices))[:k] {
			v.feeds = append(v.feeds, choices[p])
		}
		sort.Strings(v.feeds)
		v.strong = v.label == "benign-listed" && g.r.IntN(3) == 0
		v.campaign = g.r.IntN(8)
		v.last = now.Add(-time.Duration(g.r.IntN(7*24*3600)) * time.Second)
		v.first = v.last.Add(-time.Duration(g.r.IntN(90*24)) * time.Hour)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].typ+vs[i].val < vs[j].typ+vs[j].val })
	return vs
}

func writeTSV(path string, vs []*value) {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "%s\t%s\n", v.typ, v.val)
	}
	must(os.WriteFile(path, []byte(b.String()), 0o644))
}

func writeSources(path string, vs []*value) {
	var b strings.Builder
	b.WriteString("# type\tvalue\tlabel\tgroup\tfeeds\tstrong_fp_verdict\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%v\n", v.typ, v.val, v.label, v.group, strings.Join(v.feeds, ","), v.strong)
	}
	must(os.WriteFile(path, []byte(b.String()), 0o644))
}

func in(v *value, feed string) bool {
	for _, f := range v.feeds {
		if f == feed {
			return true
		}
	}
	return false
}

func writeJSON(path string, x any) {
	b, err := json.MarshalIndent(x, "", "  ")
	must(err)
	must(os.WriteFile(path, append(b, '\n'), 0o644))
}

// --- Recorded Future risk lists (CSV, default list columns) ---

type rfRule struct {
	rule, name, label string
	crit              int
}

var rfRules = map[string][]rfRule{
	"ip": {{"Current C&C Server", "recentCncServer", "Very Malicious", 4}, {"Recent Botnet Traffic", "recentBotnet", "Malicious", 3},
		{"Recent Multicategory Blocklist", "recentMultiBlacklist", "Suspicious", 2}, {"Historical Honeypot Sighting", "honeypot", "Unusual", 1},
		{"Recently Linked to Intrusion Method", "recentLinkedIntrusion", "Malicious", 3}},
	"domain": {{"Recent C&C DNS Name", "recentCncSite", "Very Malicious", 4}, {"Recent Phishing Host", "recentPhishingHost", "Malicious", 3},
		{"Recently Reported as a Defanged DNS Name", "recentDefanged", "Suspicious", 2}, {"Historical Threat Researcher", "threatResearcher", "Unusual", 1}},
	"url": {{"Recently Reported C&C URL", "recentCncUrl", "Very Malicious", 4}, {"Recently Detected Phishing Techniques", "recentPhishingUrl", "Malicious", 3},
		{"Historically Reported in Threat List", "historicalThreatList", "Unusual", 1}},
	"hash": {{"Positive Malware Verdict", "positiveMalwareVerdict", "Malicious", 3}, {"Reported by Insikt Group", "analystNote", "Very Malicious", 4},
		{"Linked to Malware", "linkedToMalware", "Suspicious", 2}, {"Historically Reported by Insikt Group", "historicalAnalystNote", "Unusual", 1}},
}

var rfBands = [5][2]int{{0, 0}, {5, 24}, {25, 64}, {65, 89}, {90, 99}}

func rfKind(typ string) string {
	switch {
	case strings.HasPrefix(typ, "file:"):
		return "hash"
	case typ == "domain-name":
		return "domain"
	case typ == "url":
		return "url"
	}
	return "ip"
}

func (g *gen) writeRF(dir string, vs []*value) {
	must(os.MkdirAll(dir, 0o755))
	for _, kind := range []string{"ip", "domain", "url", "hash"} {
		var w rfWriter
		if kind == "hash" {
			w.Write([]string{"Name", "Algorithm", "Risk", "RiskString", "EvidenceDetails"})
		} else {
			w.Write([]string{"Name", "Risk", "RiskString", "EvidenceDetails"})
		}
		for _, v := range vs {
			if rfKind(v.typ) != kind || !in(v, "recordedfuture") {
				continue
			}
			// Criticality: malicious mostly 3-4, sometimes 2; a benign
			// value 1 (Unusual), or 3 when it is a strong false positive.
			crit := 1
			switch {
			case v.label == "malicious":
				crit = []int{4, 4, 3, 3, 3, 2}[g.r.IntN(6)]
			case v.strong:
				crit = 3
			case g.r.IntN(3) == 0:
				crit = 2
			}
			rules := rfRules[kind]
			var ev []rfEvidence
			for _, r := range rules {
				if r.crit > crit || (r.crit < crit && g.r.IntN(2) == 0) {
					continue
				}
				ts := v.last.Add(-time.Duration(g.r.IntN(48)) * time.Hour)
				if r.crit < crit {
					ts = v.first
				}
				ev = append(ev, rfEvidence{
					Rule: r.rule, CriticalityLabel: r.label, Criticality: float64(r.crit), Name: r.name,
					EvidenceString: fmt.Sprintf("%d sightings on %d sources including: Insikt Group, abuse.ch.", 2+g.r.IntN(40), 2+g.r.IntN(5)),
					Sources:        []string{g.hex(6)}, Timestamp: ts.Format("2006-01-02T15:04:05.000Z"),
				})
			}
			if len(ev) == 0 {
				r := rules[len(rules)-1]
				for _, rr := range rules {
					if rr.crit == crit {
						r = rr
					}
				}
				ev = append(ev, rfEvidence{Rule: r.rule, CriticalityLabel: r.label, Criticality: float64(r.crit), Name: r.name,
					EvidenceString: "1 sighting on 1 source: Insikt Group.", Sources: []string{g.hex(6)},
					Timestamp: v.last.Format("2006-01-02T15:04:05.000Z")})
			}
			evj := pyJSON(map[string]any{"EvidenceDetails": ev})
			band := rfBands[crit]
			risk := band[0] + g.r.IntN(band[1]-band[0]+1)
			riskString := fmt.Sprintf("%d/%d", len(ev), map[string]int{"ip": 52, "domain": 45, "url": 28, "hash": 14}[kind])
			row := []string{v.val, strconv.Itoa(risk), riskString, string(evj)}
			if kind == "hash" {
				alg := "SHA-256"
				if v.typ == "file:md5" {
					alg = "MD5"
				}
				row = []string{v.val, alg, strconv.Itoa(risk), riskString, string(evj)}
			}
			w.Write(row)
		}
		must(os.WriteFile(filepath.Join(dir, "risklist_"+kind+"_default.csv"), []byte(w.String()), 0o644))
	}
}

// rfEvidence is one EvidenceDetails entry, fields in Recorded Future's order.
type rfEvidence struct {
	Rule             string   `json:"Rule"`
	CriticalityLabel string   `json:"CriticalityLabel"`
	EvidenceString   string   `json:"EvidenceString"`
	Sources          []string `json:"Sources"`
	Timestamp        string   `json:"Timestamp"`
	Name             string   `json:"Name"`
	MitigationString string   `json:"MitigationString"`
	Criticality      float64  `json:"Criticality"`
}

// pyJSON writes JSON the way Recorded Future's lists embed it (Python's
// json.dumps: ", " and ": " separators, floats with a decimal point).
func pyJSON(x any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	must(enc.Encode(x))
	out := strings.TrimSuffix(b.String(), "\n")
	var r strings.Builder
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		r.WriteByte(c)
		switch {
		case esc:
			esc = false
		case c == '\\' && inStr:
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			r.WriteByte(' ')
		}
	}
	s := r.String()
	for _, c := range []string{"1", "2", "3", "4"} {
		s = strings.ReplaceAll(s, `"Criticality": `+c+"}", `"Criticality": `+c+".0}")
	}
	return s
}

// rfWriter writes CSV with every field quoted, as the risk lists are.
type rfWriter struct{ strings.Builder }

func (w *rfWriter) Write(fields []string) {
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
	}
	w.WriteByte('\n')
}

// --- Maltiverse collection download (JSON array of IOC documents) ---

var mvSources = []string{"ThreatFox Abuse.ch", "URLhaus Abuse.ch", "Feodo Tracker Abuse.ch", "Barracuda", "Blocklist.de",
	"OpenPhish", "PhishTank", "Spamhaus DROP", "Maltiverse", "AlienVault Reputation"}
var families = []string{"QakBot", "Emotet", "AgentTesla", "Formbook", "RedLine Stealer", "Cobalt Strike", "AsyncRAT",
	"Mirai", "IcedID", "Lumma Stealer", "Remcos", "SocGholish"}

func mvTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func (g *gen) writeMaltiverse(dir string, vs []*value) {
	must(os.MkdirAll(dir, 0o755))
	var docs []map[string]any
	for _, v := range vs {
		if !in(v, "maltiverse") {
			continue
		}
		class, nbl := "malicious", 1+g.r.IntN(4)
		switch {
		case v.label == "malicious" && g.r.IntN(5) == 0:
			class, nbl = "suspicious", 1
		case v.label != "malicious" && v.strong:
			class, nbl = "malicious", 1
		case v.label != "malicious":
			class = []string{"neutral", "whitelist", "suspicious"}[g.r.IntN(3)]
			nbl = 1
		}
		var bl []map[string]any
		for i, p := range g.r.Perm(len(mvSources))[:nbl] {
			e := map[string]any{"source": mvSources[p], "count": 1 + g.r.IntN(3),
				"first_seen": mvTime(v.first), "last_seen": mvTime(v.last.Add(-time.Duration(i) * time.Hour))}
			if v.label == "malicious" || v.strong {
				e["description"] = families[(v.campaign+i)%len(families)]
				e["labels"] = []string{"malicious-activity"}
			} else {
				e["description"] = []string{"Mail Spammer", "Scanner", "Suspicious Activity"}[g.r.IntN(3)]
			}
			bl = append(bl, e)
		}
		d := map[string]any{"classification": class, "blacklist": bl, "creation_time": mvTime(v.first),
			"modification_time": mvTime(v.last), "tag": []string{strings.ToLower(families[v.campaign%len(families)])}}
		switch v.typ {
		case "ipv4-addr":
			d["type"], d["ip_addr"] = "ip", v.val
			d["is_cnc"] = v.label == "malicious" && g.r.IntN(2) == 0
			d["country_code"] = []string{"RU", "NL", "DE", "US", "CN", "BR", "IN", "VN", "UA", "SC"}[g.r.IntN(10)]
		case "domain-name":
			reg := g.set.RegistrableDomain(v.val)
			d["type"], d["hostname"], d["domain"] = "hostname", v.val, reg
			d["tld"] = v.val[strings.LastIndexByte(v.val, '.')+1:]
			d["is_cnc"], d["is_phishing"] = v.campaign%2 == 0, v.campaign%2 == 1
		case "url":
			sum := sha256.Sum256([]byte(v.val))
			host := v.val[strings.Index(v.val, "//")+2:]
			if i := strings.IndexAny(host, "/:"); i >= 0 {
				host = host[:i]
			}
			d["type"], d["url"], d["urlchecksum"], d["hostname"] = "url", v.val, hex.EncodeToString(sum[:]), host
			d["domain"] = g.set.RegistrableDomain(host)
			d["tld"] = host[strings.LastIndexByte(host, '.')+1:]
		case "file:sha256":
			d["type"], d["sha256"] = "sample", v.val
			d["filename"] = []string{g.pick([]string{"invoice", "setup", "update", "document", "payment"}) + "_" + strconv.Itoa(g.r.IntN(9999)) + ".exe"}
			d["av_ratio"] = g.r.IntN(60)
		default:
			continue
		}
		docs = append(docs, d)
	}
	writeJSON(filepath.Join(dir, "collection_download.json"), docs)
}

// --- OTX subscribed pulses (one page) ---

func otxTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func otxType(v *value) string {
	switch v.typ {
	case "ipv4-addr":
		return "IPv4"
	case "ipv6-addr":
		return "IPv6"
	case "domain-name":
		if strings.Count(v.val, ".") > 1 {
			return "hostname"
		}
		return "domain"
	case "url":
		return "URL"
	case "file:md5":
		return "FileHash-MD5"
	}
	return "FileHash-SHA256"
}

var actors = []string{"", "", "TA505", "FIN7", "", "APT28", "", "Scattered Spider"}

func (g *gen) writeOTX(dir string, vs []*value) {
	must(os.MkdirAll(dir, 0o755))
	var pulses []map[string]any
	id := 3900000000
	for c := 0; c < 8; c++ {
		var inds []map[string]any
		var newest time.Time
		for _, v := range vs {
			if !in(v, "otx") || v.campaign != c {
				continue
			}
			if v.label != "malicious" && !v.strong && g.r.IntN(2) == 0 {
				continue // weak benign values go to the sandbox pulse below
			}
			role := any(nil)
			if v.label == "malicious" && g.r.IntN(3) == 0 {
				role = []string{"command_and_control", "malware_hosting", "phishing"}[g.r.IntN(3)]
			}
			id++
			inds = append(inds, map[string]any{"id": id, "indicator": v.val, "type": otxType(v), "created": otxTime(v.first),
				"content": "", "title": "", "description": "", "expiration": nil, "is_active": 1, "role": role})
			if v.last.After(newest) {
				newest = v.last
			}
		}
		fam := families[c%len(families)]
		pulses = append(pulses, map[string]any{
			"id": g.hex(24), "name": fmt.Sprintf("%s activity %s", fam, newest.Format("2006-01-02")),
			"description": fmt.Sprintf("Indicators observed in %s campaigns.", fam), "author_name": []string{"AlienVault", "threatwatcher", "SampleUser"}[c%3],
			"modified": otxTime(newest), "created": otxTime(newest.Add(-72 * time.Hour)), "revision": 1 + g.r.IntN(3), "tlp": "white",
			"public": 1, "adversary": actors[c], "indicators": inds, "tags": []string{strings.ToLower(fam), "malware"},
			"targeted_countries": []string{}, "malware_families": []string{fam}, "attack_ids": []string{"T1071", "T1566"}[:1+c%2],
			"references": []string{}, "industries": []string{}, "extract_source": []string{}, "more_indicators": false,
		})
	}
	// A sandbox-report pulse: everything a sample touched, the classic
	// source of false positives (resolvers, connectivity checks, CDNs).
	var inds []map[string]any
	for _, v := range vs {
		if in(v, "otx") && v.label != "malicious" && !v.strong {
			id++
			inds = append(inds, map[string]any{"id": id, "indicator": v.val, "type": otxType(v), "created": otxTime(v.first),
				"content": "", "title": "contacted", "description": "Contacted during dynamic analysis", "expiration": nil, "is_active": 1, "role": nil})
		}
	}
	pulses = append(pulses, map[string]any{
		"id": g.hex(24), "name": "Sandbox report: Lumma Stealer sample network activity", "description": "Network indicators extracted automatically from a sandbox run.",
		"author_name": "sandbox-bot", "modified": otxTime(now.Add(-3 * time.Hour)), "created": otxTime(now.Add(-5 * time.Hour)), "revision": 1,
		"tlp": "white", "public": 1, "adversary": "", "indicators": inds, "tags": []string{"sandbox", "lumma"}, "targeted_countries": []string{},
		"malware_families": []string{"Lumma Stealer"}, "attack_ids": []string{}, "references": []string{}, "industries": []string{},
		"extract_source": []string{}, "more_indicators": false,
	})
	writeJSON(filepath.Join(dir, "pulses_subscribed_page1.json"), map[string]any{
		"results": pulses, "count": len(pulses), "prefetch_pulse_ids": false, "t": 0, "t2": 0.5, "t3": 1.2, "previous": nil, "next": nil,
	})
}

// --- MISP feed (manifest.json and one file per event) ---

func (g *gen) uuid() string {
	h := g.hex(32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func mispType(v *value, side string) string {
	switch v.typ {
	case "ipv4-addr", "ipv6-addr":
		return "ip-" + side
	case "domain-name":
		if strings.Count(v.val, ".") > 1 {
			return "hostname"
		}
		return "domain"
	case "url":
		return "url"
	case "file:md5":
		return "md5"
	}
	return "sha256"
}

func (g *gen) writeMISP(dir string, vs []*value) {
	must(os.RemoveAll(dir)) // event files are named by uuid: drop the previous run's
	must(os.MkdirAll(dir, 0o755))
	manifest := map[string]any{}
	orgc := map[string]any{"name": "ExampleCERT", "uuid": "5f6e4a1b-3c2d-4e5f-8a9b-0c1d2e3f4a5b"}
	for c := 0; c < 8; c++ {
		u := g.uuid()
		threat := []string{"1", "2", "1", "2", "3", "1", "2", "2"}[c]
		tags := []map[string]any{{"name": "tlp:green", "colour": "#339900", "exportable": true}}
		if c%3 == 0 {
			tags = append(tags, map[string]any{"name": `admiralty-scale:information-credibility="2"`, "colour": "#004646", "exportable": true})
		}
		fam := families[c%len(families)]
		tags = append(tags, map[string]any{"name": fmt.Sprintf(`misp-galaxy:malpedia="%s"`, fam), "colour": "#0088cc", "exportable": true})
		var attrs []map[string]any
		var newest time.Time
		for _, v := range vs {
			if !in(v, "misp") || v.campaign != c {
				continue
			}
			toIDS := true
			comment := ""
			category := "Network activity"
			if strings.HasPrefix(v.typ, "file:") {
				category = "Payload delivery"
			}
			if v.label != "malicious" && !v.strong {
				toIDS = false
				comment = "seen in sandbox traffic"
			}
			if v.label == "malicious" && g.r.IntN(8) == 0 {
				toIDS = false
			}
			attrs = append(attrs, map[string]any{"uuid": g.uuid(), "type": mispType(v, "dst"), "category": category, "value": v.val,
				"to_ids": toIDS, "comment": comment, "timestamp": strconv.FormatInt(v.last.Unix(), 10), "deleted": false,
				"disable_correlation": false, "first_seen": v.first.Format("2006-01-02T15:04:05.000000+00:00"),
				"last_seen": v.last.Format("2006-01-02T15:04:05.000000+00:00")})
			if v.last.After(newest) {
				newest = v.last
			}
		}
		ts := strconv.FormatInt(newest.Unix(), 10)
		info := fmt.Sprintf("%s infrastructure and payloads", fam)
		ev := map[string]any{"uuid": u, "info": info, "date": newest.Format("2006-01-02"), "threat_level_id": threat, "analysis": "2",
			"distribution": "3", "published": true, "timestamp": ts, "publish_timestamp": ts, "Orgc": orgc, "Tag": tags, "Attribute": attrs,
			"Object": []any{}, "Galaxy": []any{}}
		writeJSON(filepath.Join(dir, u+".json"), map[string]any{"Event": ev})
		manifest[u] = map[string]any{"Orgc": orgc, "Tag": tags, "info": info, "date": newest.Format("2006-01-02"),
			"analysis": "2", "threat_level_id": threat, "timestamp": ts}
	}
	writeJSON(filepath.Join(dir, "manifest.json"), manifest)
}
