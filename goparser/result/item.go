package result

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// Tree items are most of a dissector's result, and results are kept for
// every frame, so items have a form of their own: as arrays of tagged
// values each took about 20 octets besides its value and text, in this
// form about 6 (the results of the gRPC benchmark capture went from 2,968
// to 1,882 octets a packet), and they are read in fewer steps.
//
//	0x0b, bits, field, offset, length, flags, [value], [text], [children]
//
// bits (one octet): the value's kind in bits 0-2 (ItemValueKind), 0x08 when
// a text follows, 0x10 when children follow. field is a zigzag varint (an
// expert info's is negative); offset and length, never negative in a
// valid item, are uvarints of their two's complement, as flags are; an
// int value is a zigzag varint, a float 8 octets, a string a
// uvarint length and its octets, as is the text; a reference (ItemRef) is
// three uvarints: its base, offset and length. Children are a u32
// count, patched in by End, and that many values. Decode returns an item
// as {field, offset, length, value, text, flags [, {child…}]}, the arrays
// that items were before they had a form of their own.

// ItemValueKind is the kind of an item's value.
type ItemValueKind uint8

const (
	ItemNil ItemValueKind = iota // Wireshark reads the value from the bytes
	ItemFalse
	ItemTrue
	ItemInt
	ItemFloat
	ItemString
	// ItemRef is a string whose octets the renderer already has (Item.Ref):
	// a long one then travels, and is kept for later passes, once.
	ItemRef
)

var itemValueKindNames = [...]string{"nil", "false", "true", "int", "float", "string", "ref"}

// RefBase says which bytes a Ref points into.
type RefBase uint8

const (
	RefRange  RefBase = iota // the bytes that the item's own range is in
	RefSource                // the last data source added before the item (tree.FlagDataSource)
)

// Ref is an ItemRef's value: Len octets at Off of the bytes Base names,
// taken as a UTF-8 string.
type Ref struct {
	Base     RefBase
	Off, Len int64
}

func (k ItemValueKind) String() string {
	if int(k) < len(itemValueKindNames) {
		return itemValueKindNames[k]
	}
	return "ItemValueKind(" + strconv.Itoa(int(k)) + ")"
}

const (
	itemKindMask    = 0x07
	itemHasText     = 0x08
	itemHasChildren = 0x10
	itemKnownBits   = itemKindMask | itemHasText | itemHasChildren
)

// Item is a tree item's head. For ItemString, Str or, when it is empty,
// Bytes is the value; for ItemRef, Bytes are the string, found at Int>>1
// of the bytes that RefBase(Int&1) names (a Ref field more made every
// item slower to build: goh2 took 3-5% longer a packet). The text is Text
// or, when it is empty, TextBytes (an empty text is none).
type Item struct {
	Field, Offset, Length int64
	Flags                 uint64
	Kind                  ItemValueKind
	Int                   int64
	Float                 float64
	Str                   string
	Bytes                 []byte
	Text                  string
	TextBytes             []byte
}

// Item appends an item. With children, the values that follow until the
// matching End are its children.
func (e *Encoder) Item(it *Item, children bool) {
	bits := byte(it.Kind) & itemKindMask
	text := len(it.Text) > 0 || len(it.TextBytes) > 0
	if text {
		bits |= itemHasText
	}
	if children {
		bits |= itemHasChildren
	}
	b := append(e.buf, byte(TagItem), bits)
	b = appendVarint(b, it.Field)
	b = appendUvarint(b, uint64(it.Offset))
	b = appendUvarint(b, uint64(it.Length))
	b = appendUvarint(b, it.Flags)
	switch it.Kind {
	case ItemInt:
		b = appendVarint(b, it.Int)
	case ItemFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(it.Float))
	case ItemString:
		b = appendChunk(b, it.Str, it.Bytes)
	case ItemRef:
		b = appendUvarint(b, uint64(it.Int&1))
		b = appendUvarint(b, uint64(it.Int>>1))
		b = appendUvarint(b, uint64(len(it.Bytes)))
	}
	if text {
		b = appendChunk(b, it.Text, it.TextBytes)
	}
	e.buf = b
	if children {
		e.open(false) // the children's count, patched by End
		return
	}
	e.counted()
}

// appendUvarint is binary.AppendUvarint, inlined for the one-octet values
// that most are.
func appendUvarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return binary.AppendUvarint(b, v)
}

// appendVarint is binary.AppendVarint (zigzag), likewise.
func appendVarint(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

// appendChunk appends a uvarint length and s, or b when s is empty.
func appendChunk(b []byte, s string, bs []byte) []byte {
	if s != "" {
		return append(appendUvarint(b, uint64(len(s))), s...)
	}
	return append(appendUvarint(b, uint64(len(bs))), bs...)
}

var errItem = errors.New("result: malformed item")

// decodeItem parses an item after its tag.
func decodeItem(b []byte, depth int) (any, []byte, error) {
	if len(b) < 1 {
		return nil, nil, ErrTruncated
	}
	bits := b[0]
	if bits&^itemKnownBits != 0 || ItemValueKind(bits&itemKindMask) > ItemRef {
		return nil, nil, errItem
	}
	b = b[1:]
	var field int64
	var head [3]uint64 // offset, length, flags
	var err error
	if field, b, err = varint(binary.Varint, b); err != nil {
		return nil, nil, err
	}
	for i := range head {
		if head[i], b, err = varint(binary.Uvarint, b); err != nil {
			return nil, nil, err
		}
	}
	flags := head[2]
	if flags > math.MaxInt64 {
		return nil, nil, errItem
	}
	var value any
	switch ItemValueKind(bits & itemKindMask) {
	case ItemFalse:
		value = false
	case ItemTrue:
		value = true
	case ItemInt:
		if value, b, err = varint(binary.Varint, b); err != nil {
			return nil, nil, err
		}
	case ItemFloat:
		if len(b) < 8 {
			return nil, nil, ErrTruncated
		}
		value, b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
	case ItemString:
		if value, b, err = chunk(b); err != nil {
			return nil, nil, err
		}
	case ItemRef:
		var ref [3]uint64 // base, offset, length
		for i := range ref {
			if ref[i], b, err = varint(binary.Uvarint, b); err != nil {
				return nil, nil, err
			}
		}
		if ref[0] > uint64(RefSource) || ref[1] > math.MaxInt64 || ref[2] > math.MaxInt64 {
			return nil, nil, errItem
		}
		value = Ref{RefBase(ref[0]), int64(ref[1]), int64(ref[2])}
	}
	var text any
	if bits&itemHasText != 0 {
		if text, b, err = chunk(b); err != nil {
			return nil, nil, err
		}
	}
	out := []any{field, int64(head[0]), int64(head[1]), value, text, int64(flags)}
	if bits&itemHasChildren == 0 {
		return out, b, nil
	}
	children, b, err := decodeArray(b, depth)
	if err != nil {
		return nil, nil, err
	}
	return append(out, children), b, nil
}

// varint reads with binary.Varint or binary.Uvarint.
func varint[T int64 | uint64](read func([]byte) (T, int), b []byte) (T, []byte, error) {
	v, n := read(b)
	if n > 0 {
		return v, b[n:], nil
	}
	if n == 0 {
		return 0, nil, ErrTruncated
	}
	return 0, nil, errItem // more than 64 bits
}

// chunk parses a uvarint length and that many octets.
func chunk(b []byte) (string, []byte, error) {
	n, b, err := varint(binary.Uvarint, b)
	if err != nil {
		return "", nil, err
	}
	if uint64(len(b)) < n {
		return "", nil, ErrTruncated
	}
	return string(b[:n]), b[n:], nil
}
