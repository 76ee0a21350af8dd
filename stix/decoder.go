package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ContainerKind says what the top level of a decoded input was.
type ContainerKind uint8

const (
	// ContainerUnknown: nothing decoded yet.
	ContainerUnknown ContainerKind = iota
	// ContainerBundle is a STIX bundle (§8): {"type":"bundle","id":…,"objects":[…]}.
	ContainerBundle
	// ContainerEnvelope is a TAXII 2.1 envelope: {"more":…,"next":…,"objects":[…]}.
	ContainerEnvelope
	// ContainerList is a bare JSON array of objects.
	ContainerList
	// ContainerSingle is one STIX object on its own.
	ContainerSingle
)

// String returns the kind's name: "bundle", "envelope", "list", "object" or "unknown".
func (k ContainerKind) String() string {
	switch k {
	case ContainerBundle:
		return "bundle"
	case ContainerEnvelope:
		return "envelope"
	case ContainerList:
		return "list"
	case ContainerSingle:
		return "object"
	}
	return "unknown"
}

// Envelope is what the Decoder learnt about the input's top level. Members found
// after the "objects" array (TAXII servers often put more/next last) are known
// only once Next has returned io.EOF.
type Envelope struct {
	Kind ContainerKind
	// Type, ID and SpecVersion are the bundle's own properties, when present.
	Type        string
	ID          string
	SpecVersion string
	// More and Next are the TAXII envelope properties; HasMore says "more" was
	// present.
	More    bool
	HasMore bool
	Next    string
	// Members are the names of the top-level members in input order (for a
	// bundle or envelope), and Kinds their JSON kinds ("string", "array", …).
	Members []string
	Kinds   []string
	// Count is the number of array elements read so far.
	Count int
}

// DecodeError is an error reading one part of the input: Path names the element
// ("objects[3]", or "" for the top level) and Offset its first byte in the input.
type DecodeError struct {
	Path   string
	Offset int64
	Err    error
}

// Error returns the path, the offset and the underlying error.
func (e *DecodeError) Error() string {
	where := e.Path
	if where == "" {
		where = "input"
	}
	return fmt.Sprintf("%s (byte %d): %v", where, e.Offset, e.Err)
}

// Unwrap returns the underlying error (*SyntaxError, *LimitError, *NotObjectError,
// or a read error).
func (e *DecodeError) Unwrap() error { return e.Err }

// ErrTrailingData is input that has more than one top-level JSON value.
var ErrTrailingData = errors.New("data after the top-level value")

type decState uint8

const (
	stStart decState = iota
	stInArray
	stAfterArray
	stEnd
	stDone
)

// readBufSize is the Decoder's read buffer: the only memory it holds beyond the
// object being read.
const readBufSize = 32 << 10

// Decoder reads a bundle, a TAXII envelope, a bare array of objects or a single
// object from a stream and yields one object at a time, holding at most one
// object (bounded by Limits.MaxObjectSize) and a small read buffer in memory.
type Decoder struct {
	r     io.Reader
	lim   Limits
	buf   []byte
	pos   int
	off   int64 // input offset of buf[0]
	rerr  error
	state decState
	env   Envelope
	err   error // sticky
	first bool  // next array element is the first
	cap   []byte
	path  string

	members []member // members of the object last returned

	recording bool   // start is recording a top-level object verbatim
	rec       []byte // the recording
	recMark   int    // buf offset recorded up to

	recOverflow bool // the recording exceeded the object size limit

}

// NewDecoder returns a Decoder reading r under lim (DefaultLimits if lim is the
// zero value).
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	return &Decoder{r: r, lim: lim}
}

// Envelope returns what is known about the top level so far.
func (d *Decoder) Envelope() Envelope { return d.env }

// Path returns the path of the element last returned or failed, e.g. "objects[3]".
func (d *Decoder) Path() string { return d.path }

// Next returns the next object. It returns io.EOF after the last one. A
// *DecodeError wrapping a *NotObjectError (an element that is valid JSON but not an
// object) or a *LimitError for "max object size" concerns that element only:
// Next may be called again to continue. Any other error is final and returned
// again by later calls.
func (d *Decoder) Next() (*RawObject, error) {
	if d.err != nil {
		return nil, d.err
	}
	for {
		switch d.state {
		case stStart:
			o, err := d.start()
			if err != nil || o != nil {
				return o, d.fail(err)
			}
		case stInArray:
			o, err, done := d.element()
			if done {
				if d.env.Kind == ContainerList {
					d.state = stEnd
				} else {
					d.state = stAfterArray
				}
				continue
			}
			return o, d.fail(err)
		case stAfterArray:
			if err := d.topMembers(); err != nil {
				return nil, d.fail(err)
			}
			d.state = stEnd
		case stEnd:
			c, err := d.peekNonSpace()
			if err == io.EOF {
				d.state = stDone
				continue
			}
			if err != nil {
				return nil, d.fail(d.topErr(err))
			}
			_ = c
			return nil, d.fail(d.topErr(ErrTrailingData))
		case stDone:
			return nil, io.EOF
		}
	}
}

// fail records err as final unless it is recoverable.
func (d *Decoder) fail(err error) error {
	if err == nil {
		return nil
	}
	var ne *NotObjectError
	var le *LimitError
	if d.state == stInArray && (errors.As(err, &ne) || errors.As(err, &le) && le.Limit == "max object size") {
		return err
	}
	d.err = err
	return err
}

func (d *Decoder) topErr(err error) error {
	return &DecodeError{Offset: d.off + int64(d.pos), Err: err}
}

// fill reads more input; it returns false at the end of input or on a read error.
func (d *Decoder) fill() bool {
	if d.rerr != nil {
		return false
	}
	if d.buf == nil {
		d.buf = make([]byte, 0, readBufSize)
	}
	d.flushRec()
	if d.pos > 0 {
		d.recMark = 0
		n := copy(d.buf[:cap(d.buf)], d.buf[d.pos:])
		d.off += int64(d.pos)
		d.buf = d.buf[:n]
		d.pos = 0
	}
	for tries := 0; tries < 100; tries++ {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

func (d *Decoder) readErr() error {
	if d.rerr == nil || d.rerr == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return d.rerr
}

// peekNonSpace skips white space and returns the next byte without consuming it;
// io.EOF at a clean end of input.
func (d *Decoder) peekNonSpace() (byte, error) {
	for {
		for d.pos < len(d.buf) {
			c := d.buf[d.pos]
			if !isSpace(c) {
				return c, nil
			}
			d.pos++
		}
		if !d.fill() {
			if d.rerr == io.EOF {
				return 0, io.EOF
			}
			return 0, d.rerr
		}
	}
}

// expect consumes the next non-space byte, which must be c.
func (d *Decoder) expect(c byte, what string) error {
	got, err := d.peekNonSpace()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return d.topErr(fmt.Errorf("want %s: %w", what, err))
	}
	if got != c {
		return d.topErr(&SyntaxError{Offset: int(d.off) + d.pos, Msg: fmt.Sprintf("invalid character %q, want %s", got, what)})
	}
	d.pos++
	return nil
}

// capture appends the next JSON value (which starts at the next non-space byte)
// to dst. It tracks only strings and nesting, enough to find the value's end; the
// caller checks the full syntax. If the value is longer than limit bytes it is
// skipped to its end and exceeded is true. depth is the nesting depth of the
// value's container.
func (d *Decoder) capture(dst []byte, limit, depth int, store bool) (out []byte, exceeded bool, err error) {
	counted := 0
	if _, err := d.peekNonSpace(); err != nil {
		return dst, false, d.readErrOr(err)
	}
	start := len(dst)
	level := 0
	inStr, esc := false, false
	scalar := false
	first := true
	for {
		if d.pos >= len(d.buf) && !d.fill() {
			if scalar && level == 0 && d.rerr == io.EOF {
				return dst, exceeded, nil
			}
			return dst, exceeded, d.readErrOr(d.readErr())
		}
		chunkStart := d.pos
		done := false
		i := d.pos
		buf := d.buf
		for ; i < len(buf); i++ {
			c := buf[i]
			if first {
				first = false
				switch c {
				case '{', '[':
					level = 1
					if d.lim.MaxDepth > 0 && depth+1 > d.lim.MaxDepth {
						return dst, exceeded, &LimitError{Limit: "max JSON depth", Max: int64(d.lim.MaxDepth), Offset: d.off + int64(i)}
					}
				case '"':
					inStr = true
				default:
					scalar = true
				}
				continue
			}
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if level == 0 {
						i++
						done = true
					}
				}
				if done {
					break
				}
				continue
			}
			if scalar {
				if c == ',' || c == ']' || c == '}' || isSpace(c) || c == ':' {
					done = true
					break
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				level++
				if d.lim.MaxDepth > 0 && depth+level > d.lim.MaxDepth {
					return dst, exceeded, &LimitError{Limit: "max JSON depth", Max: int64(d.lim.MaxDepth), Offset: d.off + int64(i)}
				}
			case '}', ']':
				level--
				if level == 0 {
					i++
					done = true
				}
			}
			if done {
				break
			}
		}
		if !exceeded {
			counted += i - chunkStart
			if limit > 0 && counted > limit {
				exceeded = true
				dst = dst[:start]
				if d.recording {
					// The recorded top-level object is too large: stop here.
					d.pos = i
					return dst, true, nil
				}
			} else if store {
				max := 0
				if limit > 0 {
					max = start + limit
				}
				dst = appendGrow(dst, buf[chunkStart:i], max)
			}
		}
		d.pos = i
		if done {
			return dst, exceeded, nil
		}
	}
}

func (d *Decoder) readErrOr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// start reads the first byte and, for an object, its members up to "objects".
// While it reads an object it records the input verbatim, so that a single
// object is returned byte-for-byte.
func (d *Decoder) start() (*RawObject, error) {
	c, err := d.peekNonSpace()
	if err != nil {
		if err == io.EOF {
			return nil, d.topErr(errors.New("empty input"))
		}
		return nil, d.topErr(err)
	}
	switch c {
	case '[':
		d.pos++
		d.env.Kind = ContainerList
		d.state = stInArray
		d.first = true
		return nil, nil
	case '{':
	default:
		return nil, d.topErr(&NotObjectError{Got: "a value starting with " + strconv.QuoteRune(rune(c))})
	}
	startOff := d.off + int64(d.pos)
	limit := d.lim.MaxObjectSize
	tooBig := func() error {
		return &DecodeError{Offset: startOff, Err: &LimitError{Limit: "max object size", Max: int64(limit), Offset: int64(limit)}}
	}
	d.recording, d.rec, d.recMark, d.recOverflow = true, d.rec[:0], d.pos, false
	defer func() { d.recording = false }()
	d.pos++
	firstMember := true
	typ := ""
	for {
		c, err := d.peekNonSpace()
		if err != nil {
			return nil, d.topErr(d.readErrOr(err))
		}
		if c == '}' {
			d.pos++
			break
		}
		d.flushRec()
		if d.recOverflow || limit > 0 && len(d.rec) > limit {
			return nil, tooBig()
		}
		keyStart := len(d.rec)
		if !firstMember {
			if c != ',' {
				return nil, d.topErr(&SyntaxError{Offset: int(d.off) + d.pos, Msg: fmt.Sprintf("invalid character %q after object member", c)})
			}
			d.pos++
			if c, err = d.peekNonSpace(); err != nil {
				return nil, d.topErr(d.readErrOr(err))
			}
		}
		firstMember = false
		if c != '"' {
			return nil, d.topErr(&SyntaxError{Offset: int(d.off) + d.pos, Msg: fmt.Sprintf("invalid character %q looking for a member name", c)})
		}
		var exceeded bool
		d.cap, exceeded, err = d.capture(d.cap[:0], limit, 1, true)
		if err != nil {
			return nil, d.topErr(err)
		}
		if exceeded {
			return nil, tooBig()
		}
		key := string(d.cap)
		if err := d.expect(':', "':' after member name"); err != nil {
			return nil, err
		}
		c, err = d.peekNonSpace()
		if err != nil {
			return nil, d.topErr(d.readErrOr(err))
		}
		if c == '[' && key == `"objects"` && (typ == "" || typ == "bundle") {
			// A bundle or envelope: read what came before, then stream the array.
			d.flushRec()
			head := bytes.TrimRight(d.rec[:keyStart], " \t\r\n")
			head = append(bytes.TrimSuffix(head, []byte(",")), '}')
			if err := d.headMembers(head); err != nil {
				return nil, d.topErr(err)
			}
			d.recording = false
			d.pos++
			d.addMember("objects", "array")
			d.state = stInArray
			d.first = true
			return nil, nil
		}
		store := key == `"type"`
		d.cap, exceeded, err = d.capture(d.cap[:0], limit, 1, store)
		if err != nil {
			return nil, d.topErr(err)
		}
		if exceeded {
			return nil, tooBig()
		}
		if store && len(d.cap) >= 2 && d.cap[0] == '"' {
			s := scanner{data: d.cap}
			if end, _, err := s.scanString(0); err == nil && end == len(d.cap) {
				typ = strValue(d.cap)
			}
		}
	}
	// A single object.
	d.flushRec()
	if d.recOverflow || limit > 0 && len(d.rec) > limit {
		return nil, tooBig()
	}
	d.env.Kind = ContainerSingle
	d.state = stEnd
	b := bytes.Clone(d.rec)
	o, members, err := parseObject(b, d.lim, 0, d.members[:0])
	d.members = members
	if err != nil {
		return nil, &DecodeError{Offset: startOff, Err: err}
	}
	if isContainer(o, members) {
		// A bundle without objects, or an envelope with only more/next.
		for _, m := range members {
			d.topMember(m)
		}
		return nil, nil
	}
	d.env.Type = o.Type
	d.env.ID = o.ID
	d.env.SpecVersion = o.SpecVersion
	return o, nil
}

// flushRec appends the bytes consumed since the last flush to the recording.
func (d *Decoder) flushRec() {
	if !d.recording {
		return
	}
	max := 0
	if d.lim.MaxObjectSize > 0 {
		max = d.lim.MaxObjectSize + readBufSize
		if len(d.rec)+d.pos-d.recMark > max {
			// Over the limit: stop recording; start reports the limit.
			d.recOverflow = true
			d.recMark = d.pos
			return
		}
	}
	d.rec = appendGrow(d.rec, d.buf[d.recMark:d.pos], max)
	d.recMark = d.pos
}

func (d *Decoder) addMember(name, kind string) {
	// name may share a reused buffer's memory: keep a copy.
	d.env.Members = append(d.env.Members, strings.Clone(name))
	d.env.Kinds = append(d.env.Kinds, kind)
}

// headMembers interprets top-level members of a bundle or envelope.
func (d *Decoder) headMembers(obj []byte) error {
	s := scanner{data: obj, maxDepth: d.lim.MaxDepth}
	var members []member
	if _, err := s.scanObject(0, 1, func(m member) { members = append(members, m) }); err != nil {
		return err
	}
	for _, m := range members {
		d.topMember(m)
	}
	return nil
}

func (d *Decoder) topMember(m member) {
	d.addMember(m.key, m.kind.String())
	switch m.key {
	case "type":
		if m.kind == jString {
			d.env.Type = strValue(m.val)
		}
	case "id":
		if m.kind == jString {
			d.env.ID = strValue(m.val)
		}
	case "spec_version":
		if m.kind == jString {
			d.env.SpecVersion = strValue(m.val)
		}
	case "more":
		d.env.HasMore = true
		d.env.More = m.kind == jTrue
	case "next":
		if m.kind == jString {
			d.env.Next = strValue(m.val)
		}
	}
	if d.env.Type == "bundle" {
		d.env.Kind = ContainerBundle
	} else {
		d.env.Kind = ContainerEnvelope
	}
}

// topMembers reads the members after the objects array up to the closing brace.
func (d *Decoder) topMembers() error {
	for {
		c, err := d.peekNonSpace()
		if err != nil {
			return d.topErr(d.readErrOr(err))
		}
		if c == '}' {
			d.pos++
			return nil
		}
		if c != ',' {
			return d.topErr(&SyntaxError{Offset: int(d.off) + d.pos, Msg: fmt.Sprintf("invalid character %q after object member", c)})
		}
		d.pos++
		rec := append(d.cap[:0], '{')
		var exceeded bool
		if rec, exceeded, err = d.capture(rec, d.lim.MaxObjectSize, 1, true); err != nil {
			return d.topErr(err)
		}
		if err := d.expect(':', "':' after member name"); err != nil {
			return err
		}
		rec = append(rec, ':')
		if !exceeded {
			rec, exceeded, err = d.capture(rec, d.lim.MaxObjectSize-len(rec), 1, true)
			if err != nil {
				return d.topErr(err)
			}
		}
		if exceeded {
			return d.topErr(&LimitError{Limit: "max object size", Max: int64(d.lim.MaxObjectSize), Offset: int64(d.lim.MaxObjectSize)})
		}
		rec = append(rec, '}')
		d.cap = rec[:0]
		s := scanner{data: rec, maxDepth: d.lim.MaxDepth}
		var ms []member
		if _, err := s.scanObject(0, 1, func(m member) { ms = append(ms, m) }); err != nil {
			return d.topErr(err)
		}
		for _, m := range ms {
			if m.key == "objects" {
				return d.topErr(errors.New(`duplicate "objects" member`))
			}
			d.topMember(m)
		}
	}
}

// element reads the next array element; done is true at the closing bracket.
func (d *Decoder) element() (o *RawObject, err error, done bool) {
	c, err := d.peekNonSpace()
	if err != nil {
		return nil, d.topErr(d.readErrOr(err)), false
	}
	if c == ']' {
		d.pos++
		return nil, nil, true
	}
	if !d.first {
		if c != ',' {
			return nil, d.topErr(&SyntaxError{Offset: int(d.off) + d.pos, Msg: fmt.Sprintf("invalid character %q after array element", c)}), false
		}
		d.pos++
		if _, err := d.peekNonSpace(); err != nil {
			return nil, d.topErr(d.readErrOr(err)), false
		}
	}
	d.first = false
	idx := d.env.Count
	d.env.Count++
	if d.env.Kind == ContainerList {
		d.path = "[" + strconv.Itoa(idx) + "]"
	} else {
		d.path = "objects[" + strconv.Itoa(idx) + "]"
	}
	startOff := d.off + int64(d.pos)
	base := 2
	if d.env.Kind == ContainerList {
		base = 1
	}
	var exceeded bool
	d.cap, exceeded, err = d.capture(d.cap[:0], d.lim.MaxObjectSize, base, true)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			le.Path = d.path
		}
		return nil, &DecodeError{Path: d.path, Offset: startOff, Err: err}, false
	}
	if exceeded {
		return nil, &DecodeError{Path: d.path, Offset: startOff, Err: &LimitError{Limit: "max object size", Max: int64(d.lim.MaxObjectSize), Path: d.path, Offset: int64(d.lim.MaxObjectSize)}}, false
	}
	b := bytes.Clone(d.cap)
	o, d.members, err = parseObject(b, d.lim, base, d.members[:0])
	if err != nil {
		var ne *NotObjectError
		if errors.As(err, &ne) {
			ne.Path = d.path
		}
		return nil, &DecodeError{Path: d.path, Offset: startOff, Err: err}, false
	}
	return o, nil, false
}

// appendGrow appends b to dst, doubling the capacity when it must grow (append
// grows large slices by only 1.25x, which would allocate about five times the
// final size while capturing a large object).
func appendGrow(dst, b []byte, max int) []byte {
	if need := len(dst) + len(b); need > cap(dst) {
		n := 2 * cap(dst)
		if n < 512 {
			n = 512
		}
		if max > 0 && n > max {
			n = max
		}
		if n < need {
			n = need
		}
		grown := make([]byte, len(dst), n)
		copy(grown, dst)
		dst = grown
	}
	return append(dst, b...)
}

// isContainer reports whether a top-level object without an objects array is
// still a bundle (type "bundle") or a TAXII envelope (only more and next).
func isContainer(o *RawObject, members []member) bool {
	if o.Type == "bundle" {
		return true
	}
	if len(members) == 0 {
		return false
	}
	for _, m := range members {
		if m.key != "more" && m.key != "next" {
			return false
		}
	}
	return true
}
