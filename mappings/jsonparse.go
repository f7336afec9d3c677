package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply ParseJSON lets arrays and objects nest.
// encoding/json allows 10000; legacy answers nest a few levels.
const MaxJSONDepth = 1000

// ErrJSONDepth: the input nests arrays and objects more than MaxJSONDepth
// levels deep. It is wrapped with the offset; test for it with errors.Is.
var ErrJSONDepth = errors.New("json nesting too deep")

// A JSONSyntaxError is a ParseJSON error in the JSON text itself.
type JSONSyntaxError struct {
	Msg    string // what is wrong and where, in lowercase
	Offset int    // the byte offset of the problem in the input
}

func (e *JSONSyntaxError) Error() string { return e.Msg }

// ErrJSONDuplicateKey: an object holds the same key twice. It is wrapped
// with the key and its offset; test for it with errors.Is.
var ErrJSONDuplicateKey = errors.New("duplicate object key")

// ParseJSON decodes exactly one JSON value (RFC 8259, strictly) into the
// values DecodeJSON documents: map[string]any, []any, string, bool, nil,
// int for a whole number without fraction or exponent that fits an
// int64, and Decimal for every other number (exact, never float64).
//
// It refuses an object that holds a key twice, at any depth
// (ErrJSONDuplicateKey): readers disagree on which one counts (most take
// the last, some the first), so a gateway's message with
// "tran_amount":45,"tran_amount":4500 has no one meaning. Keys are
// compared as decoded: "a" and "\u0061" are the same key; "a" and "A" are
// not.
//
// Otherwise it gives what encoding/json (with UseNumber, numbers then
// converted as above) gives for every input encoding/json accepts:
// invalid UTF-8 in a string and unpaired UTF-16 surrogates in \u escapes
// become U+FFFD. Only whitespace may follow the value. Unlike
// encoding/json, it refuses nesting beyond MaxJSONDepth (ErrJSONDepth).
// Numbers ParseDecimal refuses (an exponent beyond ±1000) are errors
// wrapping ParseDecimal's.
//
// The strings of a document up to 8 KiB are slices of one copy of it.
func ParseJSON(data []byte) (any, error) { return parseJSON(data, 0) }

// ParseJSONNumbers is ParseJSON with every number a json.Number holding
// the number's text as written, for decoders that read numbers their own
// way. Any number the JSON grammar allows is kept, whatever its exponent.
func ParseJSONNumbers(data []byte) (any, error) { return parseJSON(data, jsonNumbers) }

// parseLenient is ParseJSON where, of duplicate keys, the last one wins,
// as in encoding/json: DecodeJSON reads legacy answers with it.
func parseLenient(data []byte) (any, error) { return parseJSON(data, jsonLastKeyWins) }

// Modes of parseJSON.
const (
	jsonNumbers     = 1 << iota // numbers as json.Number
	jsonLastKeyWins             // duplicate keys allowed, the last one wins
)

func parseJSON(data []byte, mode int) (any, error) {
	p := jsonParsers.Get().(*jsonParser)
	defer p.release()
	p.data = data
	p.mode = mode
	if len(data) <= maxSharedJSON {
		p.src = string(data)
	}
	p.skipSpace()
	if p.i >= len(data) {
		return nil, p.eof()
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(data) {
		return nil, &JSONSyntaxError{
			Msg:    fmt.Sprintf("data after the JSON value: %s at byte %d", p.quoteAt(p.i), p.i),
			Offset: p.i,
		}
	}
	return v, nil
}

type jsonMember struct {
	key string
	val any
	off int // of the key, for a duplicate's error
}

// jsonParsers holds parsers with their scratch stacks, which let each map
// and slice be made once at its final size.
var jsonParsers = sync.Pool{New: func() any { return new(jsonParser) }}

// release clears p and puts it back in jsonParsers.
func (p *jsonParser) release() {
	clear(p.kvs) // on an error, the stacks still hold values
	clear(p.vals)
	if cap(p.kvs) > 1024 || cap(p.vals) > 1024 || cap(p.buf) > 64<<10 {
		return // a rare big document: let its scratch go
	}
	*p = jsonParser{kvs: p.kvs[:0], vals: p.vals[:0], buf: p.buf[:0]}
	jsonParsers.Put(p)
}

// maxSharedJSON: the strings without escapes of a document up to this size
// are slices of one copy of it, made with one allocation. A string kept
// from such a document keeps at most this many bytes alive.
const maxSharedJSON = 8 << 10

type jsonParser struct {
	data  []byte
	src   string // string(data), if len(data) <= maxSharedJSON
	i     int    // the next byte to read
	mode  int    // jsonNumbers, jsonLastKeyWins
	depth int
	kvs   []jsonMember // members of the open objects, innermost last
	vals  []any        // elements of the open arrays, innermost last
	buf   []byte       // for strings with escapes or invalid UTF-8
}

func (p *jsonParser) skipSpace() {
	data, i := p.data, p.i
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	p.i = i
}

// value parses the value at p.i, which is within the input and not
// whitespace.
func (p *jsonParser) value() (any, error) {
	switch c := p.data[p.i]; c {
	case '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case '{':
		return p.object()
	case '[':
		return p.array()
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return p.number()
		}
		return nil, p.badChar(p.i, "expected a value")
	}
}

func (p *jsonParser) literal(lit string) error {
	data, i := p.data, p.i
	for k := 1; k < len(lit); k++ {
		if i+k >= len(data) {
			return p.eof()
		}
		if data[i+k] != lit[k] {
			return p.badChar(i+k, fmt.Sprintf("in literal %s", lit))
		}
	}
	p.i = i + len(lit)
	return nil
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > MaxJSONDepth {
		return fmt.Errorf("%w: more than %d levels of arrays and objects at byte %d", ErrJSONDepth, MaxJSONDepth, p.i)
	}
	return nil
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '{'
	p.skipSpace()
	if p.i >= len(p.data) {
		return nil, p.eof()
	}
	if p.data[p.i] == '}' {
		p.i++
		p.depth--
		return make(map[string]any), nil
	}
	start := len(p.kvs)
	for {
		if p.data[p.i] != '"' {
			return nil, p.badChar(p.i, "expected a string for an object key")
		}
		off := p.i
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.data) {
			return nil, p.eof()
		}
		if p.data[p.i] != ':' {
			return nil, p.badChar(p.i, "expected ':' after an object key")
		}
		p.i++
		p.skipSpace()
		if p.i >= len(p.data) {
			return nil, p.eof()
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.kvs = append(p.kvs, jsonMember{key, v, off})
		p.skipSpace()
		if p.i >= len(p.data) {
			return nil, p.eof()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			if p.i >= len(p.data) {
				return nil, p.eof()
			}
			continue
		case '}':
			p.i++
		default:
			return nil, p.badChar(p.i, "expected ',' or '}' after an object member")
		}
		break
	}
	members := p.kvs[start:]
	m := make(map[string]any, len(members))
	for k, e := range members {
		m[e.key] = e.val // in order: of duplicate keys, the last wins
		if len(m) <= k && p.mode&jsonLastKeyWins == 0 {
			return nil, fmt.Errorf("%w: %s at byte %d", ErrJSONDuplicateKey, quoteKey(e.key), e.off)
		}
		members[k] = jsonMember{}
	}
	p.kvs = p.kvs[:start]
	p.depth--
	return m, nil
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '['
	p.skipSpace()
	if p.i >= len(p.data) {
		return nil, p.eof()
	}
	if p.data[p.i] == ']' {
		p.i++
		p.depth--
		return make([]any, 0), nil
	}
	start := len(p.vals)
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.vals = append(p.vals, v)
		p.skipSpace()
		if p.i >= len(p.data) {
			return nil, p.eof()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			if p.i >= len(p.data) {
				return nil, p.eof()
			}
			continue
		case ']':
			p.i++
		default:
			return nil, p.badChar(p.i, "expected ',' or ']' after an array element")
		}
		break
	}
	elems := p.vals[start:]
	a := make([]any, len(elems))
	copy(a, elems)
	clear(elems)
	p.vals = p.vals[:start]
	p.depth--
	return a, nil
}

// number parses a number at p.i, which holds '-' or a digit.
func (p *jsonParser) number() (any, error) {
	data := p.data
	start := p.i
	i := start
	neg := data[i] == '-'
	if neg {
		i++
		if i >= len(data) {
			return nil, p.eof()
		}
	}
	var u uint64 // the integer digits, while they fit
	intStart := i
	switch c := data[i]; {
	case c == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return nil, p.badChar(i, "after a leading zero in a number")
		}
	case '1' <= c && c <= '9':
		for ; i < len(data) && isDigit(data[i]); i++ {
			u = u*10 + uint64(data[i]-'0') // wraps past 19 digits, unused then
		}
	default:
		return nil, p.badChar(i, "expected a digit in a number")
	}
	whole := true
	nInt := i - intStart
	if i < len(data) && data[i] == '.' {
		whole = false
		i++
		if i >= len(data) {
			return nil, p.eof()
		}
		if !isDigit(data[i]) {
			return nil, p.badChar(i, "expected a digit after the decimal point")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		whole = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) {
			return nil, p.eof()
		}
		if !isDigit(data[i]) {
			return nil, p.badChar(i, "expected a digit in the exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	p.i = i
	if p.mode&jsonNumbers != 0 {
		if p.src != "" {
			return json.Number(p.src[start:i]), nil
		}
		return json.Number(data[start:i]), nil
	}
	// 19 digits always fit a uint64; 20 never fit an int64.
	if whole && nInt <= 19 {
		if v, ok := signed(u, neg); ok {
			return int(v), nil
		}
	}
	d, err := parseDecimal(data[start:i])
	if err != nil {
		return nil, fmt.Errorf("number at byte %d: %w", start, err)
	}
	return d, nil
}

// strSpecial marks the bytes that end the fast scan of a string.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// str parses the string at p.i, which holds '"'.
func (p *jsonParser) str() (string, error) {
	data := p.data
	start := p.i + 1
	var high byte // OR of the bytes: bit 7 set if any is not ASCII
	for i := start; i < len(data); i++ {
		c := data[i]
		if !strSpecial[c] {
			high |= c
			continue
		}
		if c < 0x20 {
			return "", p.control(i)
		}
		// The closing quote, or an escape. Invalid UTF-8 before it sends
		// the whole string to strSlow.
		valid := high < utf8.RuneSelf || utf8.Valid(data[start:i])
		if c == '"' && valid {
			p.i = i + 1
			if p.src != "" {
				return p.src[start:i], nil
			}
			return string(data[start:i]), nil
		}
		if !valid {
			i = start
		}
		return p.strSlow(start, i)
	}
	return "", p.eof()
}

// strSlow finishes a string whose bytes from start to i need no decoding.
func (p *jsonParser) strSlow(start, i int) (string, error) {
	data := p.data
	b := append(p.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			p.buf = b
			p.i = i + 1
			return string(b), nil
		case c == '\\':
			if i+1 >= len(data) {
				return "", p.eof()
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := p.hex4(i + 2)
				if err != nil {
					return "", err
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A valid pair is combined; anything else leaves
					// U+FFFD, and what follows is read on its own.
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						if r2, err := p.hex4(i + 2); err == nil {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								b = utf8.AppendRune(b, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", p.badChar(i+1, "expected an escape character after '\\'")
			}
			i += 2
		case c < 0x20:
			return "", p.control(i)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...) // as encoding/json does
			} else {
				b = append(b, data[i:i+size]...)
			}
			i += size
		}
	}
	return "", p.eof()
}

// hex4 reads the 4 hex digits of a \u escape at i.
func (p *jsonParser) hex4(i int) (rune, error) {
	data := p.data
	var r rune
	for k := i; k < i+4; k++ {
		if k >= len(data) {
			return 0, p.eof()
		}
		c := data[k]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, p.badChar(k, "expected a hex digit in a \\u escape")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

func (p *jsonParser) eof() error {
	return &JSONSyntaxError{Msg: "unexpected end of JSON input", Offset: len(p.data)}
}

func (p *jsonParser) badChar(i int, context string) error {
	return &JSONSyntaxError{
		Msg:    fmt.Sprintf("invalid character %s at byte %d, %s", p.quoteAt(i), i, context),
		Offset: i,
	}
}

func (p *jsonParser) control(i int) error {
	return &JSONSyntaxError{
		Msg:    fmt.Sprintf("invalid control character %s in string at byte %d", p.quoteAt(i), i),
		Offset: i,
	}
}

// quoteAt quotes the character at i for an error message: 'x', '\n',
// 'ជ', or '\xff' for a byte that does not start valid UTF-8.
func (p *jsonParser) quoteAt(i int) string {
	r, size := utf8.DecodeRune(p.data[i:])
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf(`'\x%02x'`, p.data[i])
	}
	return strconv.QuoteRune(r)
}

// quoteKey quotes an object key for an error message, cut to 64 bytes on
// a rune boundary.
func quoteKey(k string) string {
	if len(k) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		return strconv.Quote(k[:cut]) + "…"
	}
	return strconv.Quote(k)
}
