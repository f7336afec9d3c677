package mappings

import "fmt"

// MaxIDLen bounds a gateway's transaction or bill id, in bytes. Bill24's
// ids are UUIDs (36 bytes) or shorter and QM's bill ids about 15; 128
// leaves room for any id format without letting a key grow without bound.
const MaxIDLen = 128

// CheckID checks that id, a gateway's own transaction or bill id, can be
// used exactly as it is as a store key and as the value of an HTTP header
// (the Idempotency-Key the legacy system gets): 1 to MaxIDLen bytes of
// printable ASCII (space to '~'), not beginning or ending with a space.
//
// Control characters and DEL cannot go in a header value; a space at
// either end is dropped by every header parser, so the legacy system
// would see another id; and bytes beyond ASCII are read differently by
// different stacks (Latin-1, UTF-8, or refused). name is the field, for
// the error: "tran_id", "billId".
func CheckID(name, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s must not be empty", name)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s is longer than %d bytes", name, MaxIDLen)
	case id[0] == ' ' || id[len(id)-1] == ' ':
		return fmt.Errorf("%s must not begin or end with a space", name)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < ' ' || c > '~' {
			return fmt.Errorf("%s holds byte 0x%02x at %d; an id must be printable ASCII, to go unchanged in an HTTP header", name, c, i)
		}
	}
	return nil
}
