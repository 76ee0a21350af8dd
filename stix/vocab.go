package stix

// Vocabularies of STIX 2.1 §10. Open vocabularies (-ov) SHOULD be used: a value
// outside one is a warning. Enumerations (-enum) MUST be used: an error.

type objClass uint8

const (
	classCustom objClass = iota
	classSDO
	classSRO
	classSCO
	classMeta
)

// typeSpec is what the package knows about one STIX 2.1 object type.
type typeSpec struct {
	class    objClass
	required []string
	props    map[string]bool
	info     map[string]*propInfo // per property, built from the tables below

	byKey       []*propInfo // info indexed by keyID (nil: not a property of the type)
	requiredIDs []keyID     // required, as keyIDs
}

// propInfo gathers what the rules need about one property of one type, so that
// checking a property costs one map lookup.
type propInfo struct {
	timestamp bool
	vocab     *vocabRule
	refs      map[string]bool // allowed target types of a _ref/_refs property
}

var noInfo propInfo

func init() {
	for t, ts := range specTypes {
		ts.info = make(map[string]*propInfo, len(ts.props))
		for p := range ts.props {
			pi := &propInfo{timestamp: timestampProps[p]}
			if r, ok := vocabs[t+"."+p]; ok {
				pi.vocab = &r
			}
			if a, ok := refTargets[t+"."+p]; ok {
				pi.refs = a
			}
			ts.info[p] = pi
		}
	}
	indexSpecKeys()
}

func propSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func set(values ...string) map[string]bool { return propSet(values...) }

var (
	vocabAttackMotivation = set("accidental", "coercion", "dominance", "ideology", "notoriety",
		"organizational-gain", "personal-gain", "personal-satisfaction", "revenge", "unpredictable")
	vocabResourceLevel = set("individual", "club", "contest", "team", "organization", "government")
	vocabGroupingCtx   = set("suspicious-activity", "malware-analysis", "unspecified")
	vocabHashAlgo      = set("MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH")
	vocabIdentityClass = set("individual", "group", "system", "organization", "class", "unknown")
	vocabImplLang      = set("applescript", "bash", "c", "c++", "c#", "go", "java", "javascript", "lua",
		"objective-c", "perl", "php", "powershell", "python", "ruby", "scala", "swift", "typescript",
		"visual-basic", "x86-32", "x86-64")
	vocabIndicatorType = set("anomalous-activity", "anonymization", "benign", "compromised",
		"malicious-activity", "attribution", "unknown")
	vocabIndustrySector = set("agriculture", "aerospace", "automotive", "chemical", "commercial",
		"communications", "construction", "defense", "education", "energy", "entertainment",
		"financial-services", "government", "government-emergency-services", "government-local",
		"government-national", "government-public-services", "government-regional", "healthcare",
		"hospitality-leisure", "infrastructure", "infrastructure-dams", "infrastructure-nuclear",
		"infrastructure-water", "insurance", "manufacturing", "mining", "non-profit",
		"pharmaceuticals", "retail", "technology", "telecommunications", "transportation", "utilities")
	vocabInfraType = set("amplification", "anonymization", "botnet", "command-and-control",
		"control-system", "exfiltration", "firewall", "hosting-malware", "hosting-target-lists",
		"phishing", "reconnaissance", "routers-switches", "staging", "workstation", "unknown")
	vocabMalwareResult = set("malicious", "suspicious", "benign", "unknown")
	vocabMalwareType   = set("adware", "backdoor", "bot", "bootkit", "ddos", "downloader", "dropper",
		"exploit-kit", "keylogger", "ransomware", "remote-access-trojan", "resource-exploitation",
		"rogue-security-software", "rootkit", "screen-capture", "spyware", "trojan", "unknown",
		"virus", "webshell", "wiper", "worm")
	vocabPatternType = set("stix", "pcre", "sigma", "snort", "suricata", "yara")
	vocabProcArch    = set("alpha", "arm", "ia-64", "mips", "powerpc", "sparc", "x86", "x86-64")
	vocabReportType  = set("attack-pattern", "campaign", "identity", "indicator", "intrusion-set",
		"malware", "observed-data", "threat-actor", "threat-report", "tool", "vulnerability")
	vocabThreatActorType = set("activist", "competitor", "crime-syndicate", "criminal", "hacker",
		"insider-accidental", "insider-disgruntled", "nation-state", "sensationalist", "spy",
		"terrorist", "unknown")
	vocabThreatActorRole = set("agent", "director", "independent", "infrastructure-architect",
		"infrastructure-operator", "malware-author", "sponsor")
	vocabSophistication = set("none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic")
	vocabToolType       = set("denial-of-service", "exploitation", "information-gathering",
		"network-capture", "credential-exploitation", "remote-access", "vulnerability-scanning", "unknown")

	enumOpinion       = set("strongly-disagree", "disagree", "neutral", "agree", "strongly-agree")
	enumExtensionType = set("new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension")
	enumEncryption    = set("AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated")
)

// vocabRule ties a property of a type to a vocabulary.
type vocabRule struct {
	name  string
	vals  map[string]bool
	isEnu bool
}

// vocabs maps "type.property" to its vocabulary.
var vocabs = map[string]vocabRule{
	"indicator.indicator_types":            {"indicator-type-ov", vocabIndicatorType, false},
	"indicator.pattern_type":               {"pattern-type-ov", vocabPatternType, false},
	"malware.malware_types":                {"malware-type-ov", vocabMalwareType, false},
	"malware.implementation_languages":     {"implementation-language-ov", vocabImplLang, false},
	"malware.architecture_execution_envs":  {"processor-architecture-ov", vocabProcArch, false},
	"malware-analysis.result":              {"malware-result-ov", vocabMalwareResult, false},
	"threat-actor.threat_actor_types":      {"threat-actor-type-ov", vocabThreatActorType, false},
	"threat-actor.roles":                   {"threat-actor-role-ov", vocabThreatActorRole, false},
	"threat-actor.sophistication":          {"threat-actor-sophistication-ov", vocabSophistication, false},
	"threat-actor.resource_level":          {"attack-resource-level-ov", vocabResourceLevel, false},
	"threat-actor.primary_motivation":      {"attack-motivation-ov", vocabAttackMotivation, false},
	"threat-actor.secondary_motivations":   {"attack-motivation-ov", vocabAttackMotivation, false},
	"threat-actor.personal_motivations":    {"attack-motivation-ov", vocabAttackMotivation, false},
	"intrusion-set.resource_level":         {"attack-resource-level-ov", vocabResourceLevel, false},
	"intrusion-set.primary_motivation":     {"attack-motivation-ov", vocabAttackMotivation, false},
	"intrusion-set.secondary_motivations":  {"attack-motivation-ov", vocabAttackMotivation, false},
	"identity.identity_class":              {"identity-class-ov", vocabIdentityClass, false},
	"identity.sectors":                     {"industry-sector-ov", vocabIndustrySector, false},
	"report.report_types":                  {"report-type-ov", vocabReportType, false},
	"tool.tool_types":                      {"tool-type-ov", vocabToolType, false},
	"infrastructure.infrastructure_types":  {"infrastructure-type-ov", vocabInfraType, false},
	"grouping.context":                     {"grouping-context-ov", vocabGroupingCtx, false},
	"opinion.opinion":                      {"opinion-enum", enumOpinion, true},
	"extension-definition.extension_types": {"extension-type-enum", enumExtensionType, true},
	"artifact.encryption_algorithm":        {"encryption-algorithm-enum", enumEncryption, true},
}

// timestampProps are properties of type timestamp (§2.15) in STIX 2.1 objects.
var timestampProps = set("created", "modified", "valid_from", "valid_until", "first_seen",
	"last_seen", "published", "first_observed", "last_observed", "start_time", "stop_time",
	"object_modified", "start", "end", "atime", "ctime", "mtime", "created_time", "modified_time",
	"date", "account_created", "account_expires", "credential_last_changed", "account_first_login",
	"account_last_login", "validity_not_before", "validity_not_after", "analysis_started",
	"analysis_ended", "submitted")

// nonRelatable are the types a relationship may not link (§5.1: source_ref and
// target_ref MUST NOT be bundles, marking definitions, relationships or sightings;
// meta objects are not SDOs either).
var nonRelatable = set("bundle", "marking-definition", "relationship", "sighting",
	"language-content", "extension-definition")

// refTargets restricts the type of an identifier property: "type.property" to the
// allowed target types (errors).
var refTargets = map[string]map[string]bool{
	"sighting.observed_data_refs":   set("observed-data"),
	"sighting.where_sighted_refs":   set("identity", "location"),
	"network-traffic.src_ref":       set("ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"),
	"network-traffic.dst_ref":       set("ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"),
	"domain-name.resolves_to_refs":  set("ipv4-addr", "ipv6-addr", "domain-name"),
	"ipv4-addr.resolves_to_refs":    set("mac-addr"),
	"ipv6-addr.resolves_to_refs":    set("mac-addr"),
	"ipv4-addr.belongs_to_refs":     set("autonomous-system"),
	"ipv6-addr.belongs_to_refs":     set("autonomous-system"),
	"email-addr.belongs_to_ref":     set("user-account"),
	"file.parent_directory_ref":     set("directory"),
	"email-message.from_ref":        set("email-addr"),
	"email-message.sender_ref":      set("email-addr"),
	"email-message.to_refs":         set("email-addr"),
	"email-message.cc_refs":         set("email-addr"),
	"email-message.bcc_refs":        set("email-addr"),
	"malware.sample_refs":           set("file", "artifact"),
	"malware.operating_system_refs": set("software"),
	"malware-analysis.host_vm_ref":  set("software"),
	"malware-analysis.sample_ref":   set("file", "network-traffic", "artifact"),
}

// reservedProps MUST NOT be used (§3.1 / cti-stix-validator {"severity", "action",
// "username", "phone_numbers"}).
var reservedProps = set("severity", "action", "username", "usernames", "phone_numbers")

// relationshipPairs are the spec-defined relationships (source type, relationship
// type) → target types; others draw a warning.
var relationshipPairs = map[string]map[string]bool{
	"indicator indicates":                  set("attack-pattern", "campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "tool"),
	"indicator based-on":                   set("observed-data"),
	"campaign uses":                        set("attack-pattern", "infrastructure", "malware", "tool"),
	"intrusion-set uses":                   set("attack-pattern", "infrastructure", "malware", "tool"),
	"threat-actor uses":                    set("attack-pattern", "infrastructure", "malware", "tool"),
	"malware uses":                         set("attack-pattern", "infrastructure", "malware", "tool"),
	"campaign attributed-to":               set("intrusion-set", "threat-actor"),
	"intrusion-set attributed-to":          set("threat-actor"),
	"threat-actor attributed-to":           set("identity"),
	"campaign targets":                     set("identity", "location", "vulnerability"),
	"intrusion-set targets":                set("identity", "location", "vulnerability"),
	"threat-actor targets":                 set("identity", "location", "vulnerability"),
	"attack-pattern targets":               set("identity", "location", "vulnerability"),
	"malware targets":                      set("identity", "infrastructure", "location", "vulnerability"),
	"tool targets":                         set("identity", "infrastructure", "location", "vulnerability"),
	"malware exploits":                     set("vulnerability"),
	"course-of-action mitigates":           set("attack-pattern", "indicator", "malware", "tool", "vulnerability"),
	"course-of-action remediates":          set("malware", "vulnerability"),
	"course-of-action investigates":        set("indicator"),
	"malware drops":                        set("malware", "file", "tool"),
	"malware downloads":                    set("malware", "file", "tool"),
	"malware communicates-with":            set("ipv4-addr", "ipv6-addr", "domain-name", "url"),
	"malware beacons-to":                   set("infrastructure"),
	"malware exfiltrates-to":               set("infrastructure"),
	"malware variant-of":                   set("malware"),
	"malware authored-by":                  set("threat-actor", "intrusion-set"),
	"malware originates-from":              set("location"),
	"malware controls":                     set("malware"),
	"campaign compromises":                 set("infrastructure"),
	"campaign originates-from":             set("location"),
	"intrusion-set compromises":            set("infrastructure"),
	"intrusion-set hosts":                  set("infrastructure"),
	"intrusion-set owns":                   set("infrastructure"),
	"intrusion-set originates-from":        set("location"),
	"threat-actor compromises":             set("infrastructure"),
	"threat-actor hosts":                   set("infrastructure"),
	"threat-actor owns":                    set("infrastructure"),
	"threat-actor impersonates":            set("identity"),
	"threat-actor located-at":              set("location"),
	"identity located-at":                  set("location"),
	"infrastructure communicates-with":     set("infrastructure", "ipv4-addr", "ipv6-addr", "domain-name", "url"),
	"infrastructure consists-of":           set("infrastructure", "observed-data", "ipv4-addr", "ipv6-addr", "domain-name", "url", "mac-addr", "software", "autonomous-system"),
	"infrastructure controls":              set("infrastructure", "malware"),
	"infrastructure delivers":              set("malware"),
	"infrastructure has":                   set("vulnerability"),
	"infrastructure hosts":                 set("tool", "malware"),
	"infrastructure located-at":            set("location"),
	"infrastructure uses":                  set("infrastructure"),
	"tool uses":                            set("attack-pattern", "infrastructure", "malware"),
	"tool delivers":                        set("malware"),
	"tool drops":                           set("malware"),
	"tool has":                             set("vulnerability"),
	"campaign characterizes":               set("malware"),
	"malware characterizes":                set("malware"),
	"malware-analysis characterizes":       set("malware"),
	"malware-analysis analysis-of":         set("malware"),
	"malware-analysis static-analysis-of":  set("malware"),
	"malware-analysis dynamic-analysis-of": set("malware"),
	"attack-pattern uses":                  set("malware", "tool"),
	"attack-pattern delivers":              set("malware"),
}

// commonRelationships may link any two SDOs (§5.1).
var commonRelationships = set("derived-from", "duplicate-of", "related-to")
