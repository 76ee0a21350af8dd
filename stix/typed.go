package stix

import (
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the STIX version ctibroker writes.
const SpecVersion = "2.1"

// NewCommon returns the common properties of a new SDO or SRO of type typ: a
// UUIDv4 id, spec_version 2.1, created and modified at now (milliseconds, UTC).
func NewCommon(typ string, now time.Time) Common {
	ts := NewTimestamp(now)
	ts2 := ts
	return Common{Type: typ, SpecVersion: SpecVersion, ID: NewID(typ), Created: &ts, Modified: &ts2}
}

// KillChainPhase is a STIX kill chain phase (§2.8).
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// validateTyped checks a typed object with the same rules as Validate and returns
// the first MUST-level finding as a *ValidationError. Patterns are not checked:
// that is stix/pattern's job.
func validateTyped(o any) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	var v Validator
	_, fs, err := v.ParseAndValidate(b)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Severity == SeverityError {
			return f.ValidationError()
		}
	}
	return nil
}

// setSCOID sets the deterministic id of a typed SCO from its JSON form (§2.9), or
// a UUIDv4 id when none of its ID-contributing properties is set.
func setSCOID(o Object) error {
	c := o.Base()
	c.ID = ""
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("SCO id: %w", err)
	}
	_, members, err := parseObject(b, DefaultLimits, 0, nil)
	if err != nil {
		return fmt.Errorf("SCO id: %w", err)
	}
	id, err := scoIDFromMembers(c.Type, members)
	if err == ErrNoContributing {
		id, err = NewID(c.Type), nil
	}
	if err != nil {
		return err
	}
	c.ID = id
	return nil
}

func newSCOCommon(typ string) Common { return Common{Type: typ, SpecVersion: SpecVersion} }
