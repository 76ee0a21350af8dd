package pattern

// Comparisons returns every comparison of p in the order written, across all
// observations. The slice is new; the comparisons are p's own.
func (p *Pattern) Comparisons() []*Comparison {
	var out []*Comparison
	p.Walk(func(c *Comparison) bool {
		out = append(out, c)
		return true
	})
	return out
}

// Walk calls fn for every comparison of p in the order written, until fn
// returns false.
func (p *Pattern) Walk(fn func(*Comparison) bool) {
	walkObs(p.Expr, fn)
}

func walkObs(e ObservationExpr, fn func(*Comparison) bool) bool {
	switch e := e.(type) {
	case *ObservationSimple:
		return walkCmp(e.Comparison, fn)
	case *ObservationCompound:
		for _, o := range e.Operands {
			if !walkObs(o, fn) {
				return false
			}
		}
	case *ObservationQualified:
		return walkObs(e.Expr, fn)
	}
	return true
}

func walkCmp(e ComparisonExpr, fn func(*Comparison) bool) bool {
	switch e := e.(type) {
	case *Comparison:
		return fn(e)
	case *ComparisonCompound:
		for _, o := range e.Operands {
			if !walkCmp(o, fn) {
				return false
			}
		}
	}
	return true
}

// SimpleComparison returns the comparison of a pattern that is exactly one
// observation with one comparison Path = Value (not negated) and no
// qualifier, such as [ipv4-addr:value = '1.2.3.4']; ok is false otherwise.
func (p *Pattern) SimpleComparison() (c *Comparison, ok bool) {
	o, ok := p.Expr.(*ObservationSimple)
	if !ok {
		return nil, false
	}
	c, ok = o.Comparison.(*Comparison)
	if !ok || c.Op != OpEqual || c.Negated {
		return nil, false
	}
	return c, true
}

// Simple parses s and, when it is a single-comparison equality pattern such as
// [ipv4-addr:value = '1.2.3.4'] or [file:hashes.'SHA-256' = '…'], returns the
// object type, the property path in canonical form (hashes.'SHA-256', see
// ObjectPath.Property) and the value as plain text (see Literal.Text: a string
// unescaped, 174 for [autonomous-system:number = 174]). ok is false when s does
// not parse or is any other kind of pattern.
func Simple(s string) (objType, path, value string, ok bool) {
	p, err := Parse(s)
	if err != nil {
		return "", "", "", false
	}
	c, ok := p.SimpleComparison()
	if !ok {
		return "", "", "", false
	}
	return c.Path.ObjectType, c.Path.Property(), c.Value.Text(), true
}

// Check parses s with the default Limits and returns only the error (nil or an
// *Error). It fits stix.Validator's PatternChecker field.
func Check(s string) error {
	_, err := ParseWithLimits(s, Limits{})
	return err
}

// Checker returns a function that parses with lim and returns only the error,
// for stix.Validator's PatternChecker field when the limits are configured.
func Checker(lim Limits) func(string) error {
	return func(s string) error {
		_, err := ParseWithLimits(s, lim)
		return err
	}
}
