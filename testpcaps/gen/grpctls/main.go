// Command grpctls runs a gRPC health service and a client over TLS on
// loopback and records the TLS session secrets in NSS key log format, so
// that a packet capture of the exchange can be decrypted by Wireshark.
//
// The client makes a few unary Check calls, then opens a Watch server
// stream, observes one status change and cancels the stream. Finally the
// client closes its connection and the server stops gracefully.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"net"
	"os"
	"time"

	"github.com/gotcpdump/gotcpdump/testpcaps/gen/internal/selfsigned"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const service = "demo.Greeter"

func main() {
	addr := flag.String("addr", "127.0.0.1:18443", "listen and connect address")
	keylog := flag.String("keylog", "grpc_keylog.txt", "NSS key log output file")
	tls12 := flag.Bool("tls12", false, "limit the connection to TLS 1.2")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("grpctls: ")

	klw, err := os.Create(*keylog)
	if err != nil {
		log.Fatal(err)
	}
	defer klw.Close()

	cert, pool, err := selfsigned.Cert()
	if err != nil {
		log.Fatal(err)
	}
	maxVersion := uint16(tls.VersionTLS13)
	if *tls12 {
		maxVersion = tls.VersionTLS12
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})))
	hs := health.NewServer()
	hs.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The key log is written by the client; either side would do, as both
	// derive the same secrets.
	creds := credentials.NewTLS(&tls.Config{
		RootCAs:      pool,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   maxVersion,
		KeyLogWriter: klw,
	})
	// passthrough skips name resolution; the target is a literal address.
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		log.Fatal(err)
	}
	if err := runClient(healthpb.NewHealthClient(conn), hs); err != nil {
		log.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		log.Fatal(err)
	}
	srv.GracefulStop()
	if err := <-served; err != nil {
		log.Fatalf("serve: %v", err)
	}
	log.Print("done")
}

func runClient(c healthpb.HealthClient, hs *health.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// "" is the overall server health; the unknown service yields a
	// NOT_FOUND status carried in the response trailers.
	for _, svc := range []string{"", service, "no.such.Service"} {
		resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if status.Code(err) == codes.NotFound {
			log.Printf("check %q: %v", svc, err)
			continue
		}
		if err != nil {
			return err
		}
		log.Printf("check %q: %v", svc, resp.GetStatus())
	}

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	stream, err := c.Watch(wctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	log.Printf("watch: %v", first.GetStatus())
	hs.SetServingStatus(service, healthpb.HealthCheckResponse_NOT_SERVING)
	second, err := stream.Recv()
	if err != nil {
		return err
	}
	log.Printf("watch: %v", second.GetStatus())
	// Cancelling the open server stream sends RST_STREAM(CANCEL).
	wcancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		log.Printf("watch: unexpected end: %v", err)
	}

	resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	log.Printf("check %q: %v", service, resp.GetStatus())
	return nil
}
