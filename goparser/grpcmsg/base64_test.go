package grpcmsg

import (
	"encoding/base64"
	"errors"
	"testing"
)

// TestBase64Stream: separately padded writes, cut at every point into
// two chunks, decode to the concatenation of what was written.
func TestBase64Stream(t *testing.T) {
	writes := []string{"\x00\x00\x00\x00\x02hi", "\x80\x00\x00\x00\x0fgrpc-status: 0\r\n", "x"}
	var text, want string
	for _, w := range writes {
		text += base64.StdEncoding.EncodeToString([]byte(w))
		want += w
	}
	for cut := 0; cut <= len(text); cut++ {
		var s Base64Stream
		got, err := s.Decode(nil, []byte(text[:cut]))
		if err == nil {
			got, err = s.Decode(got, []byte(text[cut:]))
		}
		if err != nil || string(got) != want {
			t.Fatalf("cut %d: %q, %v; want %q", cut, got, err, want)
		}
	}
	var s Base64Stream
	if _, err := s.Decode(nil, []byte("AAA*")); !errors.Is(err, ErrBase64) {
		t.Fatalf("invalid text: %v", err)
	}
	if _, err := s.Decode(nil, []byte("AAAA")); !errors.Is(err, ErrBase64) {
		t.Fatalf("a failed stream must stay failed: %v", err)
	}
}

// FuzzBase64Stream: however a text is cut into chunks, the stream decodes
// it to what decoding it whole gives, and fails exactly when that fails.
func FuzzBase64Stream(f *testing.F) {
	f.Add([]byte("AAAAAAJoaQ==gAAAAA9ncnBjLXN0YXR1czogMA0K"), uint8(3))
	f.Add([]byte("eA==eA=="), uint8(1))
	f.Fuzz(func(t *testing.T, text []byte, cut uint8) {
		var whole Base64Stream
		want, werr := whole.Decode(nil, text)
		var s Base64Stream
		k := int(cut) % (len(text) + 1)
		got, err := s.Decode(nil, text[:k])
		if err == nil {
			got, err = s.Decode(got, text[k:])
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("cut at %d: error %v, whole: %v", k, err, werr)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("cut at %d: %q, whole: %q", k, got, want)
		}
	})
}
