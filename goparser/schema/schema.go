// Package schema declares the Wireshark protocols, fields and expert infos
// that the Go decoders fill in. The Lua side creates its Proto, ProtoField
// and ProtoExpert objects from this schema at load time, so field layout
// and value names live in one place: here, next to the decoders.
package schema

import (
	"fmt"
	"sync"

	"github.com/gotcpdump/gotcpdump/goparser/result"
)

// FieldType names a Wireshark ftype (the key in Lua's ftypes table).
type FieldType string

const (
	None     FieldType = "NONE"
	Bool     FieldType = "BOOLEAN"
	Uint8    FieldType = "UINT8"
	Uint16   FieldType = "UINT16"
	Uint24   FieldType = "UINT24"
	Uint32   FieldType = "UINT32"
	Uint64   FieldType = "UINT64"
	Int32    FieldType = "INT32"
	Double   FieldType = "DOUBLE"
	String   FieldType = "STRING"
	Bytes    FieldType = "BYTES"
	FrameNum FieldType = "FRAMENUM"
	RelTime  FieldType = "RELATIVE_TIME"
	AbsTime  FieldType = "ABSOLUTE_TIME"
)

// Base names a Wireshark display base (the key in Lua's base table).
type Base string

const (
	BaseNone   Base = ""
	BaseDec    Base = "DEC"
	BaseHex    Base = "HEX"
	BaseDecHex Base = "DEC_HEX"
)

// Severity and Group are the keys of Lua's expert.severity and expert.group.
type (
	Severity string
	Group    string
)

const (
	Chat  Severity = "CHAT"
	Note  Severity = "NOTE"
	Warn  Severity = "WARN"
	Error Severity = "ERROR"

	GroupProtocol   Group = "PROTOCOL"
	GroupMalformed  Group = "MALFORMED"
	GroupSequence   Group = "SEQUENCE"
	GroupResponse   Group = "RESPONSE_CODE"
	GroupRequest    Group = "REQUEST_CODE"
	GroupUndecoded  Group = "UNDECODED"
	GroupComment    Group = "COMMENTS_GROUP"
	GroupAssumption Group = "ASSUMPTION" // dissected on an assumed value
)

// FieldID identifies a field (or a protocol item) across all protocols.
type FieldID int32

// ExpertID identifies an expert info across all protocols.
type ExpertID int32

// Field describes one ProtoField.
type Field struct {
	Abbrev  string
	Name    string
	Type    FieldType
	Base    Base
	Bits    int    // for BOOLEAN: width of the parent field in bits
	Mask    uint64 // bitmask, 0 for none
	Strings map[uint64]string
	Desc    string
}

// Expert describes one ProtoExpert.
type Expert struct {
	Abbrev   string
	Text     string
	Group    Group
	Severity Severity
}

// Protocol is a set of fields and experts under one filter name.
type Protocol struct {
	Name string // filter name, e.g. "goh2"
	Desc string // description shown in the tree
	Item FieldID
	Pos  int // index in the registry's protocol list
}

type registry struct {
	mu      sync.Mutex
	protos  []*Protocol
	fields  []Field
	owner   []int // protocol index of each field; -1 for protocol items
	experts []Expert
	eowner  []int
}

var reg registry

// NewProtocol registers a protocol and returns it. Its Item is the field ID
// to use for the protocol's own tree item.
func NewProtocol(name, desc string) *Protocol {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	p := &Protocol{Name: name, Desc: desc, Pos: len(reg.protos)}
	reg.protos = append(reg.protos, p)
	p.Item = FieldID(len(reg.fields))
	reg.fields = append(reg.fields, Field{Abbrev: name, Name: desc, Type: "PROTOCOL"})
	reg.owner = append(reg.owner, p.Pos)
	return p
}

// Field registers a field of p.
func (p *Protocol) Field(f Field) FieldID {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, g := range reg.fields {
		if g.Abbrev == f.Abbrev {
			panic(fmt.Sprintf("schema: field %s registered twice", f.Abbrev))
		}
	}
	id := FieldID(len(reg.fields))
	reg.fields = append(reg.fields, f)
	reg.owner = append(reg.owner, p.Pos)
	return id
}

// Expert registers an expert info of p.
func (p *Protocol) Expert(e Expert) ExpertID {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	id := ExpertID(len(reg.experts))
	reg.experts = append(reg.experts, e)
	reg.eowner = append(reg.eowner, p.Pos)
	return id
}

// Lookup returns the field registered under id.
func Lookup(id FieldID) Field {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.fields[id]
}

// LookupExpert returns the expert registered under id.
func LookupExpert(id ExpertID) Expert {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.experts[id]
}

// Encode writes the whole schema as
//
//	{protocols = {{name, desc, item}, …},
//	 fields    = {{abbrev, name, ftype, base, mask, strings, desc, proto}, …},
//	 experts   = {{abbrev, text, group, severity, proto}, …}}
//
// Lists are zero-based in ID order; proto is a protocol list index.
// For BOOLEAN fields base is the bit width.
func Encode(e *result.Encoder) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	e.BeginMap()
	e.String("protocols")
	e.BeginArray()
	for _, p := range reg.protos {
		e.BeginArray()
		e.String(p.Name)
		e.String(p.Desc)
		e.Int(int64(p.Item))
		e.End()
	}
	e.End()
	e.String("fields")
	e.BeginArray()
	for i, f := range reg.fields {
		e.BeginArray()
		e.String(f.Abbrev)
		e.String(f.Name)
		e.String(string(f.Type))
		if f.Type == Bool {
			e.Int(int64(f.Bits))
		} else {
			e.String(string(f.Base))
		}
		e.Int(int64(f.Mask))
		if len(f.Strings) > 0 {
			e.BeginMap()
			for k, v := range f.Strings {
				e.Int(int64(k))
				e.String(v)
			}
			e.End()
		} else {
			e.Nil()
		}
		e.String(f.Desc)
		e.Int(int64(reg.owner[i]))
		e.End()
	}
	e.End()
	e.String("experts")
	e.BeginArray()
	for i, x := range reg.experts {
		e.BeginArray()
		e.String(x.Abbrev)
		e.String(x.Text)
		e.String(string(x.Group))
		e.String(string(x.Severity))
		e.Int(int64(reg.eowner[i]))
		e.End()
	}
	e.End()
	e.End()
}
