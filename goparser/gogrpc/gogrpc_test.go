package gogrpc

import (
	"encoding/base64"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

func TestStatusDetails(t *testing.T) {
	detail, _ := anypb.New(durationpb.New(1500000000))
	b, _ := proto.Marshal(&spb.Status{Code: int32(codes.ResourceExhausted), Message: "slow down", Details: []*anypb.Any{detail}})
	hdr := map[string]string{"grpc-status": "8", "grpc-message": "slow%20down", "grpc-status-details-bin": base64.RawStdEncoding.EncodeToString(b)}
	var e result.Encoder
	ok := WriteStatus(tree.Writer{E: &e}, 0, 10, Call{Path: "/a.B/C"}, func(n string) (string, bool) { v, ok := hdr[n]; return v, ok }, nil)
	out, err := e.Bytes()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	s := string(out)
	for _, want := range []string{"slow down", "code ResourceExhausted", "type.googleapis.com/google.protobuf.Duration", "/a.B/C ended with ResourceExhausted"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q", want)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for v, want := range map[string]string{"100m": "100ms", "9998452u": "9.998452s", "1H": "1h0m0s", "2M": "2m0s", "5S": "5s", "7n": "7ns"} {
		if d, ok := ParseTimeout(v); !ok || d.String() != want {
			t.Errorf("%s: %v %v", v, d, ok)
		}
	}
	for _, v := range []string{"", "10", "1x", "1234567890S", "-1S"} {
		if _, ok := ParseTimeout(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}
