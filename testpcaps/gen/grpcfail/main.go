// Command grpcfail makes grpc-go calls that fail in the ways an analyst
// meets in production, for the gogrpc tests: against a grpc-go server, a
// status whose message is too long for one HEADERS frame (it goes on in a
// CONTINUATION), a deadline that runs out, a call the client cancels and
// a status with google.rpc error details;
// against a net/http server standing in for a proxy or a broken server,
// an HTTP 503 and 404 without gRPC, a response ended without trailers,
// trailers without grpc-status and a grpc-status that is not a number.
// Each call's status, as grpc-go's client reports it, must be the one in
// calls: the tests expect gogrpc to find the same.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// calls are made in this order, one after another, on two connections:
// the grpc-go server's, then the net/http server's.
var calls = []struct {
	method string
	proxy  bool // to the net/http server
	want   codes.Code
}{
	{"/demo.Fail/Ok", false, codes.OK},
	{"/demo.Fail/BigStatus", false, codes.ResourceExhausted},
	{"/demo.Fail/Slow", false, codes.DeadlineExceeded},
	{"/demo.Fail/Cancel", false, codes.Canceled},
	{"/demo.Fail/Details", false, codes.InvalidArgument},
	{"/demo.Fail/Unavailable", true, codes.Unavailable},
	{"/demo.Fail/NotFound", true, codes.Unimplemented},
	{"/demo.Fail/NoTrailers", true, codes.Internal},
	{"/demo.Fail/NoStatus", true, codes.Unknown},
	{"/demo.Fail/BadStatus", true, codes.Unknown},
}

// bigMessage is longer than grpc-go's 16 KB frames, in lines (which grpc-go
// percent-encodes).
var bigMessage = strings.Repeat("quota exceeded for tenant 42;\n", 1000)

func main() {
	grpcAddr := flag.String("grpc", "127.0.0.1:18448", "grpc-go server address")
	proxyAddr := flag.String("proxy", "127.0.0.1:18449", "net/http server address")
	flag.Parse()

	lis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(serve))
	go srv.Serve(lis)
	defer srv.Stop()

	plis, err := net.Listen("tcp", *proxyAddr)
	if err != nil {
		log.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: http.HandlerFunc(proxy), Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(plis)
	defer hs.Close()

	conns := map[bool]*grpc.ClientConn{}
	for proxy, addr := range map[bool]string{false: *grpcAddr, true: *proxyAddr} {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatal(err)
		}
		defer cc.Close()
		conns[proxy] = cc
	}
	failed := false
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		switch c.method {
		case "/demo.Fail/Slow":
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		case "/demo.Fail/Cancel":
			time.AfterFunc(50*time.Millisecond, cancel)
		}
		var out wrapperspb.StringValue
		err := conns[c.proxy].Invoke(ctx, c.method, wrapperspb.String("request"), &out)
		cancel()
		got := status.Code(err)
		fmt.Fprintf(os.Stderr, "%-24s %v\n", c.method, got)
		if got != c.want {
			fmt.Fprintf(os.Stderr, "  want %v: %v\n", c.want, err)
			failed = true
		}
		time.Sleep(50 * time.Millisecond) // one call at a time in the capture
	}
	if failed {
		log.Fatal("grpc-go reported other statuses than expected")
	}
}

// serve is the grpc-go server's handler for every method.
func serve(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	var in wrapperspb.StringValue
	if err := ss.RecvMsg(&in); err != nil {
		return err
	}
	switch method {
	case "/demo.Fail/BigStatus":
		return status.Error(codes.ResourceExhausted, bigMessage)
	case "/demo.Fail/Details":
		st, err := status.New(codes.InvalidArgument, "bad request").WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "must not be empty"}}},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
		if err != nil {
			return err
		}
		return st.Err()
	case "/demo.Fail/Slow", "/demo.Fail/Cancel":
		// Past the client's deadline or cancel, which then resets the
		// stream: its status is the client's, never sent.
		time.Sleep(300 * time.Millisecond)
		return status.Error(codes.Internal, "too late")
	}
	return ss.SendMsg(wrapperspb.String("ok"))
}

// proxy answers as a proxy without an upstream, or as a server that gets
// gRPC wrong, would.
func proxy(w http.ResponseWriter, r *http.Request) {
	_, _ = r.Body.Read(make([]byte, 64))
	msg := func() {
		b, _ := proto.Marshal(wrapperspb.String("ok"))
		_, _ = w.Write(append([]byte{0, 0, 0, 0, byte(len(b))}, b...))
	}
	switch r.URL.Path {
	case "/demo.Fail/Unavailable":
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
	case "/demo.Fail/NoTrailers":
		w.Header().Set("Content-Type", "application/grpc")
		msg()
	case "/demo.Fail/NoStatus":
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Message")
		msg()
		w.Header().Set("Grpc-Message", "forgot the status")
	case "/demo.Fail/BadStatus":
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		msg()
		w.Header().Set("Grpc-Status", "abc")
	default:
		http.NotFound(w, r)
	}
}
