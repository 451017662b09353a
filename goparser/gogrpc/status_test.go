package gogrpc

import (
	"encoding/base64"
	"testing"
	"time"

	"golang.org/x/net/http2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func TestReadStatus(t *testing.T) {
	details := func(code codes.Code) string {
		b, _ := proto.Marshal(&spb.Status{Code: int32(code)})
		return base64.RawStdEncoding.EncodeToString(b)
	}
	for _, tc := range []struct {
		name       string
		fields     map[string]string
		end, whole bool
		want       Status
		ok         bool
	}{
		{"trailers", map[string]string{"grpc-status": "0"}, true, true, Status{Code: codes.OK}, true},
		{"trailers-only", map[string]string{":status": "200", "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "no%20such%zzkey%2"}, true, true, Status{Code: codes.NotFound, Message: "no such%zzkey%2"}, true},
		{"response headers", map[string]string{":status": "200", "content-type": "application/grpc+proto"}, false, true, Status{}, false},
		{"informational", map[string]string{":status": "100"}, false, true, Status{}, false},
		{"gRPC-Web", map[string]string{":status": "200", "content-type": "application/grpc-web+proto"}, false, true, Status{}, false},
		{"proxy 503", map[string]string{":status": "503", "content-type": "text/plain"}, true, true, Status{Code: codes.Unavailable, From: `HTTP status 503 Service Unavailable, content-type "text/plain"`, NotGRPC: true}, true},
		// With a gRPC content-type, grpc-go takes grpc-status alone.
		{"503 with grpc-status", map[string]string{":status": "503", "content-type": "application/grpc", "grpc-status": "8"}, true, true, Status{Code: codes.ResourceExhausted}, true},
		{"404", map[string]string{":status": "404"}, false, true, Status{Code: codes.Unimplemented, From: "HTTP status 404 Not Found, no content-type", NotGRPC: true}, true},
		{"418", map[string]string{":status": "418"}, true, true, Status{Code: codes.Unknown, From: "HTTP status 418 I'm a teapot, no content-type", NotGRPC: true}, true},
		{"html 200", map[string]string{":status": "200", "content-type": "text/html"}, false, true, Status{Code: codes.Unknown, From: `HTTP status 200 OK, content-type "text/html"`, NotGRPC: true}, true},
		{"malformed :status", map[string]string{":status": "2x0"}, false, true, Status{Code: codes.Internal, From: `malformed :status "2x0"`, NotGRPC: true}, true},
		{"malformed grpc-status", map[string]string{"grpc-status": " 3"}, true, true, Status{Code: codes.Unknown, From: `malformed grpc-status " 3"`}, true},
		// grpc-go's strconv.ParseInt(v, 10, 32), then uint32.
		{"signed grpc-status", map[string]string{"grpc-status": "+3"}, true, true, Status{Code: codes.InvalidArgument}, true},
		{"grpc-status past int32", map[string]string{"grpc-status": "4294967295"}, true, true, Status{Code: codes.Unknown, From: `malformed grpc-status "4294967295"`}, true},
		{"gRPC-Web trailers-only in the headers", map[string]string{":status": "200", "content-type": "application/grpc-web+proto", "grpc-status": "5", "grpc-message": "unknown service"}, false, true, Status{Code: codes.NotFound, Message: "unknown service"}, true},
		{"grpc-status in response headers", map[string]string{":status": "200", "content-type": "application/grpc", "grpc-status": "0"}, false, true, Status{}, false},
		{"details agree", map[string]string{"grpc-status": "5", "grpc-status-details-bin": details(5)}, true, true, Status{Code: codes.NotFound, Details: details(5)}, true},
		{"details disagree", map[string]string{"grpc-status": "5", "grpc-status-details-bin": details(3)}, true, true, Status{Code: codes.Internal, Details: details(3), From: "grpc-status-details-bin says InvalidArgument, grpc-status NotFound"}, true},
		{"details not base64", map[string]string{"grpc-status": "5", "grpc-status-details-bin": "%%"}, true, true, Status{Code: codes.Internal, From: "malformed grpc-status-details-bin: illegal base64 data at input byte 0"}, true},
		{"no grpc-status", map[string]string{"x": "y"}, true, true, Status{Code: codes.Unknown, From: "trailers without grpc-status"}, true},
		// Fields lost with HPACK entries from before the capture decide
		// nothing.
		{"no grpc-status, not whole", map[string]string{"x": "y"}, true, false, Status{}, false},
		{"proxy 503, not whole", map[string]string{":status": "503"}, true, false, Status{Code: codes.Unknown, From: "trailers without grpc-status"}, false},
		{"not ended", map[string]string{"x": "y"}, false, true, Status{}, false},
	} {
		got, ok := ReadStatus(func(n string) (string, bool) { v, ok := tc.fields[n]; return v, ok }, tc.end, tc.whole)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestResetStatus(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		code             http2.ErrCode
		timeout, elapsed time.Duration
		want             codes.Code
	}{
		{http2.ErrCodeCancel, 0, 5 * ms, codes.Canceled},
		{http2.ErrCodeCancel, 100 * ms, 50 * ms, codes.Canceled},
		// grpc-timeout 99.9 ms, reset 100.5 ms later (grpc-go and Python).
		{http2.ErrCodeCancel, 99900 * time.Microsecond, 100500 * time.Microsecond, codes.DeadlineExceeded},
		// Written before the HEADERS were captured, rounded up.
		{http2.ErrCodeCancel, 100 * ms, 99 * ms, codes.DeadlineExceeded},
		{http2.ErrCodeCancel, 100 * ms, 97 * ms, codes.Canceled},
		{http2.ErrCodeRefusedStream, 0, 0, codes.Unavailable},
		{http2.ErrCodeEnhanceYourCalm, 0, 0, codes.ResourceExhausted},
		{http2.ErrCodeFlowControl, 0, 0, codes.ResourceExhausted},
		{http2.ErrCodeInadequateSecurity, 0, 0, codes.PermissionDenied},
		{http2.ErrCodeNo, 0, 0, codes.Internal},
		{http2.ErrCodeProtocol, 0, 0, codes.Internal},
		{http2.ErrCodeHTTP11Required, 0, 0, codes.Internal},
		{http2.ErrCodeHTTP11Required + 1, 0, 0, codes.Unknown},
	} {
		if got := ResetStatus(tc.code, tc.timeout, tc.elapsed); got.Code != tc.want {
			t.Errorf("%v after %v (timeout %v): %v, want %v", tc.code, tc.elapsed, tc.timeout, got.Code, tc.want)
		}
	}
}
