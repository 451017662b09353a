// Package result encodes decoding results into the compact, self-describing
// byte format that crosses the C boundary, and decodes it back for tests.
//
// The format is deliberately generic (nil, booleans, numbers, strings,
// arrays, maps) so that the C shim can turn any result into Lua values
// without knowing anything about the protocols. All integers are
// little-endian.
//
//	0x00 nil
//	0x01 false
//	0x02 true
//	0x03 int32   (4 bytes)
//	0x04 int64   (8 bytes)
//	0x05 float64 (8 bytes, IEEE 754)
//	0x06 string  (u32 length, bytes)
//	0x07 array   (u32 count, count values)
//	0x08 map     (u32 pair count, key and value for each pair)
//	0x09 uint8   (1 byte)
//	0x0a uint16  (2 bytes)
//	0x0b item    (a tree item: see Item)
//
// Small integers (offsets, lengths, field numbers) take the short forms:
// results are cached per frame by the caller, so their size is memory.
package result

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Tag is the first byte of every encoded value.
type Tag byte

const (
	TagNil Tag = iota
	TagFalse
	TagTrue
	TagInt32
	TagInt64
	TagFloat64
	TagString
	TagArray
	TagMap
	TagUint8
	TagUint16
	TagItem
)

var tagNames = [...]string{"nil", "false", "true", "int32", "int64", "float64", "string", "array", "map", "uint8", "uint16", "item"}

func (t Tag) String() string {
	if int(t) < len(tagNames) {
		return tagNames[t]
	}
	return fmt.Sprintf("Tag(%d)", byte(t))
}

// MaxDepth bounds nesting so that a decoder in C can use a fixed stack.
const MaxDepth = 64

// Encoder appends values to a reusable buffer. Containers are opened with
// BeginArray or BeginMap and closed with End; their element counts are
// patched in when they close, so callers can stream without counting.
type Encoder struct {
	buf   []byte
	stack []frame
	err   error
}

type frame struct {
	pos   int // offset of the u32 count
	count uint32
	isMap bool
}

// Reset empties the encoder, keeping its buffer for reuse.
func (e *Encoder) Reset() {
	e.buf = e.buf[:0]
	e.stack = e.stack[:0]
	e.err = nil
}

// Bytes returns the encoded bytes. It fails if a container is still open.
func (e *Encoder) Bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if len(e.stack) != 0 {
		return nil, errors.New("result: unclosed container")
	}
	return e.buf, nil
}

// Len reports the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

func (e *Encoder) counted() {
	if n := len(e.stack); n > 0 {
		e.stack[n-1].count++
	}
}

// Nil appends a nil value.
func (e *Encoder) Nil() {
	e.buf = append(e.buf, byte(TagNil))
	e.counted()
}

// Bool appends a boolean.
func (e *Encoder) Bool(b bool) {
	if b {
		e.buf = append(e.buf, byte(TagTrue))
	} else {
		e.buf = append(e.buf, byte(TagFalse))
	}
	e.counted()
}

// Int appends an integer in the shortest form that holds it.
func (e *Encoder) Int(v int64) {
	switch {
	case v >= 0 && v <= math.MaxUint8:
		e.buf = append(e.buf, byte(TagUint8), byte(v))
	case v >= 0 && v <= math.MaxUint16:
		e.buf = append(e.buf, byte(TagUint16), byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.buf = append(e.buf, byte(TagInt32))
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(int32(v)))
	default:
		e.buf = append(e.buf, byte(TagInt64))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(v))
	}
	e.counted()
}

// IntSlot appends an int64 whose value is filled in later with PatchInt,
// for counts known only after the values that follow are written.
func (e *Encoder) IntSlot() int {
	e.buf = append(e.buf, byte(TagInt64))
	pos := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0, 0, 0, 0, 0)
	e.counted()
	return pos
}

// PatchInt sets the value of a slot returned by IntSlot.
func (e *Encoder) PatchInt(slot int, v int64) {
	binary.LittleEndian.PutUint64(e.buf[slot:], uint64(v))
}

// Float appends a float64.
func (e *Encoder) Float(v float64) {
	e.buf = append(e.buf, byte(TagFloat64))
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
	e.counted()
}

// String appends a string.
func (e *Encoder) String(s string) {
	e.buf = append(e.buf, byte(TagString))
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
	e.counted()
}

// BytesValue appends a byte slice as a string value.
func (e *Encoder) BytesValue(b []byte) {
	e.buf = append(e.buf, byte(TagString))
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(b)))
	e.buf = append(e.buf, b...)
	e.counted()
}

func (e *Encoder) begin(t Tag, isMap bool) {
	e.buf = append(e.buf, byte(t))
	e.open(isMap)
}

// open counts a container in the enclosing one and opens its u32 count.
func (e *Encoder) open(isMap bool) {
	e.counted()
	if len(e.stack) >= MaxDepth {
		e.err = errors.New("result: nesting too deep")
	}
	e.stack = append(e.stack, frame{pos: len(e.buf), isMap: isMap})
	e.buf = append(e.buf, 0, 0, 0, 0)
}

// BeginArray opens an array; close it with End.
func (e *Encoder) BeginArray() { e.begin(TagArray, false) }

// BeginMap opens a map whose entries are written as key, value, key, value…
func (e *Encoder) BeginMap() { e.begin(TagMap, true) }

// End closes the innermost open container.
func (e *Encoder) End() {
	n := len(e.stack)
	if n == 0 {
		e.err = errors.New("result: End without Begin")
		return
	}
	f := e.stack[n-1]
	e.stack = e.stack[:n-1]
	c := f.count
	if f.isMap {
		if c%2 != 0 {
			e.err = errors.New("result: map with a key and no value")
		}
		c /= 2
	}
	binary.LittleEndian.PutUint32(e.buf[f.pos:], c)
}

// Depth reports how many containers are open.
func (e *Encoder) Depth() int { return len(e.stack) }

// ErrTruncated is returned by Decode when the input ends inside a value.
var ErrTruncated = errors.New("result: truncated")

// Decode parses one value from b and returns it with the rest of b.
// ErrKey means a map key that is an array or a map.
var ErrKey = errors.New("result: map key is not a scalar")

// Arrays decode to []any, maps to map[any]any, integers to int64, strings
// to string. It exists for tests and tools; the C shim has its own decoder.
func Decode(b []byte) (any, []byte, error) {
	return decode(b, 0)
}

func decode(b []byte, depth int) (any, []byte, error) {
	if depth > MaxDepth {
		return nil, nil, errors.New("result: nesting too deep")
	}
	if len(b) < 1 {
		return nil, nil, ErrTruncated
	}
	t, b := Tag(b[0]), b[1:]
	switch t {
	case TagNil:
		return nil, b, nil
	case TagFalse:
		return false, b, nil
	case TagTrue:
		return true, b, nil
	case TagUint8:
		if len(b) < 1 {
			return nil, nil, ErrTruncated
		}
		return int64(b[0]), b[1:], nil
	case TagUint16:
		if len(b) < 2 {
			return nil, nil, ErrTruncated
		}
		return int64(binary.LittleEndian.Uint16(b)), b[2:], nil
	case TagInt32:
		if len(b) < 4 {
			return nil, nil, ErrTruncated
		}
		return int64(int32(binary.LittleEndian.Uint32(b))), b[4:], nil
	case TagInt64:
		if len(b) < 8 {
			return nil, nil, ErrTruncated
		}
		return int64(binary.LittleEndian.Uint64(b)), b[8:], nil
	case TagFloat64:
		if len(b) < 8 {
			return nil, nil, ErrTruncated
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], nil
	case TagString:
		if len(b) < 4 {
			return nil, nil, ErrTruncated
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return nil, nil, ErrTruncated
		}
		return string(b[:n]), b[n:], nil
	case TagArray:
		return decodeArray(b, depth)
	case TagItem:
		return decodeItem(b, depth)
	case TagMap:
		if len(b) < 4 {
			return nil, nil, ErrTruncated
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n)*2 > uint64(len(b)) {
			return nil, nil, ErrTruncated
		}
		out := make(map[any]any, n)
		for i := uint32(0); i < n; i++ {
			var k, v any
			var err error
			if k, b, err = decode(b, depth+1); err != nil {
				return nil, nil, err
			}
			if v, b, err = decode(b, depth+1); err != nil {
				return nil, nil, err
			}
			switch k.(type) {
			case []any, map[any]any:
				// The encoder writes only scalar keys; a Go map cannot hold these.
				return nil, nil, ErrKey
			}
			out[k] = v
		}
		return out, b, nil
	}
	return nil, nil, fmt.Errorf("result: unknown tag %v", t)
}

// decodeArray parses an array's count and values.
func decodeArray(b []byte, depth int) ([]any, []byte, error) {
	if len(b) < 4 {
		return nil, nil, ErrTruncated
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) { // every value takes at least one byte
		return nil, nil, ErrTruncated
	}
	out := make([]any, 0, n)
	for i := uint32(0); i < n; i++ {
		var v any
		var err error
		v, b, err = decode(b, depth+1)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, v)
	}
	return out, b, nil
}
