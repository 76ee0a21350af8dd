package stix

// Typed SCOs (§6). Constructors set type, spec_version and the deterministic
// UUIDv5 id from the ID-contributing properties (§2.9); after changing such a
// property, call SetID again.

// IPv4Addr is a STIX 2.1 IPv4 Address SCO (§6.8); Value is an address or CIDR block.
type IPv4Addr struct {
	Common
	Value          string   `json:"value"`
	ResolvesToRefs []string `json:"resolves_to_refs,omitempty"`
	BelongsToRefs  []string `json:"belongs_to_refs,omitempty"`
}

// NewIPv4Addr returns an ipv4-addr with its deterministic id.
func NewIPv4Addr(value string) *IPv4Addr {
	o := &IPv4Addr{Common: newSCOCommon("ipv4-addr"), Value: value}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Value.
func (o *IPv4Addr) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *IPv4Addr) Validate() error { return validateTyped(o) }

// IPv6Addr is a STIX 2.1 IPv6 Address SCO (§6.9).
type IPv6Addr struct {
	Common
	Value          string   `json:"value"`
	ResolvesToRefs []string `json:"resolves_to_refs,omitempty"`
	BelongsToRefs  []string `json:"belongs_to_refs,omitempty"`
}

// NewIPv6Addr returns an ipv6-addr with its deterministic id. The value is used as
// given (no compression), as §2.9 requires.
func NewIPv6Addr(value string) *IPv6Addr {
	o := &IPv6Addr{Common: newSCOCommon("ipv6-addr"), Value: value}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Value.
func (o *IPv6Addr) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *IPv6Addr) Validate() error { return validateTyped(o) }

// DomainName is a STIX 2.1 Domain Name SCO (§6.4).
type DomainName struct {
	Common
	Value          string   `json:"value"`
	ResolvesToRefs []string `json:"resolves_to_refs,omitempty"`
}

// NewDomainName returns a domain-name with its deterministic id.
func NewDomainName(value string) *DomainName {
	o := &DomainName{Common: newSCOCommon("domain-name"), Value: value}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Value.
func (o *DomainName) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *DomainName) Validate() error { return validateTyped(o) }

// URL is a STIX 2.1 URL SCO (§6.16).
type URL struct {
	Common
	Value string `json:"value"`
}

// NewURL returns a url with its deterministic id.
func NewURL(value string) *URL {
	o := &URL{Common: newSCOCommon("url"), Value: value}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Value.
func (o *URL) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *URL) Validate() error { return validateTyped(o) }

// EmailAddr is a STIX 2.1 Email Address SCO (§6.5).
type EmailAddr struct {
	Common
	Value        string `json:"value"`
	DisplayName  string `json:"display_name,omitempty"`
	BelongsToRef string `json:"belongs_to_ref,omitempty"`
}

// NewEmailAddr returns an email-addr with its deterministic id.
func NewEmailAddr(value string) *EmailAddr {
	o := &EmailAddr{Common: newSCOCommon("email-addr"), Value: value}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Value.
func (o *EmailAddr) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *EmailAddr) Validate() error { return validateTyped(o) }

// File is a STIX 2.1 File SCO (§6.7). Hashes keys come from hash-algorithm-ov
// ("MD5", "SHA-1", "SHA-256", "SHA-512", …).
type File struct {
	Common
	Hashes             map[string]string `json:"hashes,omitempty"`
	Size               *int64            `json:"size,omitempty"`
	Name               string            `json:"name,omitempty"`
	MimeType           string            `json:"mime_type,omitempty"`
	ParentDirectoryRef string            `json:"parent_directory_ref,omitempty"`
	ContainsRefs       []string          `json:"contains_refs,omitempty"`
	ContentRef         string            `json:"content_ref,omitempty"`
}

// NewFile returns a file with the given hashes and name (either may be empty) and
// its deterministic id.
func NewFile(hashes map[string]string, name string) *File {
	o := &File{Common: newSCOCommon("file"), Hashes: hashes, Name: name}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from hashes, name, extensions and
// parent_directory_ref.
func (o *File) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *File) Validate() error { return validateTyped(o) }

// AutonomousSystem is a STIX 2.1 Autonomous System SCO (§6.2).
type AutonomousSystem struct {
	Common
	Number int64  `json:"number"`
	Name   string `json:"name,omitempty"`
	RIR    string `json:"rir,omitempty"`
}

// NewAutonomousSystem returns an autonomous-system with its deterministic id.
func NewAutonomousSystem(number int64) *AutonomousSystem {
	o := &AutonomousSystem{Common: newSCOCommon("autonomous-system"), Number: number}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from Number.
func (o *AutonomousSystem) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *AutonomousSystem) Validate() error { return validateTyped(o) }

// X509Certificate is a STIX 2.1 X.509 Certificate SCO (§6.18).
type X509Certificate struct {
	Common
	IsSelfSigned              bool              `json:"is_self_signed,omitempty"`
	Hashes                    map[string]string `json:"hashes,omitempty"`
	Version                   string            `json:"version,omitempty"`
	SerialNumber              string            `json:"serial_number,omitempty"`
	SignatureAlgorithm        string            `json:"signature_algorithm,omitempty"`
	Issuer                    string            `json:"issuer,omitempty"`
	ValidityNotBefore         *Timestamp        `json:"validity_not_before,omitempty"`
	ValidityNotAfter          *Timestamp        `json:"validity_not_after,omitempty"`
	Subject                   string            `json:"subject,omitempty"`
	SubjectPublicKeyAlgorithm string            `json:"subject_public_key_algorithm,omitempty"`
	SubjectPublicKeyModulus   string            `json:"subject_public_key_modulus,omitempty"`
	SubjectPublicKeyExponent  *int64            `json:"subject_public_key_exponent,omitempty"`
}

// NewX509Certificate returns an x509-certificate with the given hashes and serial
// number (either may be empty) and its deterministic id.
func NewX509Certificate(hashes map[string]string, serial string) *X509Certificate {
	o := &X509Certificate{Common: newSCOCommon("x509-certificate"), Hashes: hashes, SerialNumber: serial}
	_ = o.SetID()
	return o
}

// SetID sets the deterministic id from hashes and serial_number.
func (o *X509Certificate) SetID() error { return setSCOID(o) }

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *X509Certificate) Validate() error { return validateTyped(o) }

// NetworkTraffic is a STIX 2.1 Network Traffic SCO (§6.12).
type NetworkTraffic struct {
	Common
	Start        *Timestamp `json:"start,omitempty"`
	End          *Timestamp `json:"end,omitempty"`
	IsActive     bool       `json:"is_active,omitempty"`
	SrcRef       string     `json:"src_ref,omitempty"`
	DstRef       string     `json:"dst_ref,omitempty"`
	SrcPort      *int       `json:"src_port,omitempty"`
	DstPort      *int       `json:"dst_port,omitempty"`
	Protocols    []string   `json:"protocols"`
	SrcByteCount *int64     `json:"src_byte_count,omitempty"`
	DstByteCount *int64     `json:"dst_byte_count,omitempty"`
	SrcPackets   *int64     `json:"src_packets,omitempty"`
	DstPackets   *int64     `json:"dst_packets,omitempty"`
}

// SetID sets the deterministic id from start, end, src_ref, dst_ref, the ports,
// protocols and extensions.
func (o *NetworkTraffic) SetID() error {
	if o.Type == "" {
		o.Common = newSCOCommon("network-traffic")
	}
	return setSCOID(o)
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *NetworkTraffic) Validate() error { return validateTyped(o) }
