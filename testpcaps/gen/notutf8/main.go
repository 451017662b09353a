// Command notutf8 makes grpc-go calls whose status messages hold
// characters outside ASCII, for the tests of what goh2 and gogrpc show for
// them. A grpc-go server's message holds two octets that are not UTF-8
// and an "é": grpc-go sends the octets as U+FFFD and percent-encodes all
// three as UTF-8. A Go net/http h2c server, standing in for a server of
// another gRPC implementation, percent-encodes octets that are not UTF-8
// as they are. The client must get each message as the tests expect it.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const sent = "bad \xff\xfe octets, caf\u00e9"

func main() {
	grpcAddr := flag.String("grpc", "127.0.0.1:18097", "grpc-go server address")
	h2cAddr := flag.String("h2c", "127.0.0.1:18098", "net/http h2c server address")
	flag.Parse()
	lis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		var in wrapperspb.StringValue
		if err := ss.RecvMsg(&in); err != nil {
			return err
		}
		return status.Error(codes.Internal, sent)
	}))
	go srv.Serve(lis)
	defer srv.Stop()

	hlis, err := net.Listen("tcp", *h2cAddr)
	if err != nil {
		log.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Protocols: &p, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		w.Header().Set("Grpc-Status", "13")
		w.Header().Set("Grpc-Message", "bad %FF%FE octets")
	})}
	go hs.Serve(hlis)
	defer hs.Close()

	for _, c := range []struct{ addr, want string }{
		{*grpcAddr, "bad \ufffd\ufffd octets, caf\u00e9"},
		{*h2cAddr, "bad \xff\xfe octets"},
	} {
		cc, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out wrapperspb.StringValue
		err = cc.Invoke(ctx, "/demo.Octets/Call", wrapperspb.String("request"), &out)
		cancel()
		cc.Close()
		if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != c.want {
			log.Fatalf("%s: status %v %q, want INTERNAL %q", c.addr, st.Code(), st.Message(), c.want)
		}
	}
}
