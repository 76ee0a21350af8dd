package taxii

import (
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// parseMediaRange parses one media range ("type/subtype;param=v") with mime's
// rules: type, subtype and parameter names lower-cased, spaces ignored.
func parseMediaRange(s string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(strings.TrimSpace(s))
	if err != nil {
		return "", nil, err
	}
	if !strings.Contains(mt, "/") {
		return "", nil, fmt.Errorf("media type %q: no subtype", s)
	}
	return mt, params, nil
}

// versionOK reports whether a media type's version parameter names TAXII/STIX 2.1
// or is absent (§1.6.8.2: no version means the latest the server supports).
func versionOK(params map[string]string) bool {
	v, ok := params["version"]
	return !ok || strings.TrimSpace(v) == "2.1"
}

// acceptable reports whether an Accept header can be served as TAXII 2.1 (§3.1).
// Served: application/taxii+json (version 2.1 or none), */*, application/*, and,
// where stix is true (endpoints returning STIX content), application/stix+json;
// version=2.1 (§5.3 lists it for the manifest). A range with q=0 is refused. An
// absent Accept header is served. A header that does not parse is not served.
func acceptable(header string, stix bool) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	for _, r := range strings.Split(header, ",") {
		if strings.TrimSpace(r) == "" {
			continue
		}
		mt, params, err := parseMediaRange(r)
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			if err != nil || f <= 0 {
				continue
			}
		}
		switch mt {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if versionOK(params) {
				return true
			}
		case "application/stix+json":
			if stix && versionOK(params) {
				return true
			}
		}
	}
	return false
}

// postContentTypeOK reports whether a POST objects Content-Type is accepted (§3.1,
// §5.5): application/taxii+json or application/stix+json with version 2.1 or
// none, compared semantically (case, spaces, charset ignored). The lenient
// profile also takes application/json and a missing Content-Type.
func postContentTypeOK(header string, lenient bool) bool {
	if strings.TrimSpace(header) == "" {
		return lenient
	}
	mt, params, err := parseMediaRange(header)
	if err != nil {
		return false
	}
	switch mt {
	case "application/taxii+json", "application/stix+json":
		return versionOK(params)
	case "application/json":
		return lenient
	}
	return false
}
