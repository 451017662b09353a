// Command grpcgzip makes grpc-go traffic over cleartext HTTP/2 for the
// gogrpc tests: unary calls compressed with gzip, a server-streaming
// Watch, a request of about 150 KB that spans many DATA frames, and a
// call that fails with a status and message.
package main

import (
	"context"
	"flag"
	"log"
	"math/rand"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18444", "listen and dial address")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("demo.Greeter", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	defer srv.GracefulStop()

	cc, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Unary calls, gzip both ways (the server answers in the request's encoding).
	for i := 0; i < 3; i++ {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "demo.Greeter"}, grpc.UseCompressor("gzip")); err != nil {
			log.Fatal(err)
		}
	}
	// A large uncompressed request: ~150 KB of random letters.
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 150_000)
	for i := range big {
		big[i] = byte('a' + rng.Intn(26))
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: string(big)}); err == nil {
		log.Fatal("unknown service accepted")
	}
	// Server streaming: two status updates, then cancel.
	wctx, wcancel := context.WithCancel(ctx)
	stream, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{Service: "demo.Greeter"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		log.Fatal(err)
	}
	hs.SetServingStatus("demo.Greeter", healthpb.HealthCheckResponse_NOT_SERVING)
	if _, err := stream.Recv(); err != nil {
		log.Fatal(err)
	}
	wcancel()
	time.Sleep(100 * time.Millisecond)
}
