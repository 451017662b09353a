// Command grpcload makes grpc-go traffic for the gRPC case of build/bench.sh:
// a health server and -conns clients on their own TCP connections, each
// making its share of -calls calls one after another over cleartext
// HTTP/2. Every -stream-every-th call is a server-streaming Watch of
// -updates messages, the others unary Checks; every -gzip-every-th call
// is compressed with gzip both ways. Request messages carry a service name
// of -name-len octets, so that gzip has something to compress. It prints
// the number of calls of each kind and exits non-zero if any failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// server answers Check with SERVING and Watch with n updates, then OK.
type server struct {
	healthpb.UnimplementedHealthServer
	updates int
}

func (s *server) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *server) Watch(_ *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	for i := 0; i < s.updates; i++ {
		st := healthpb.HealthCheckResponse_SERVING
		if i%2 == 1 {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18201", "listen and dial address")
	calls := flag.Int("calls", 60000, "calls in all")
	conns := flag.Int("conns", 8, "client connections, each making calls one after another")
	streamEvery := flag.Int("stream-every", 10, "every Nth call is a Watch stream (0: none)")
	gzipEvery := flag.Int("gzip-every", 4, "every Nth call is gzip-compressed (0: none)")
	updates := flag.Int("updates", 4, "messages per Watch stream")
	nameLen := flag.Int("name-len", 64, "octets of the service name in each request")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *calls < 1 || *conns < 1 || *updates < 1 || *nameLen < 1 {
		log.Fatal("grpcload: -calls, -conns, -updates and -name-len must be positive")
	}

	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, &server{updates: *updates})
	go srv.Serve(lis)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	service := "bench." + strings.Repeat("x", max(*nameLen-6, 0))
	var unary, streams, failed atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cc, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				log.Fatal(err)
			}
			defer cc.Close()
			hc := healthpb.NewHealthClient(cc)
			req := &healthpb.HealthCheckRequest{Service: service}
			// Calls c, c+conns, c+2*conns, ...: the kinds are spread evenly.
			for i := c; i < *calls; i += *conns {
				var opts []grpc.CallOption
				if *gzipEvery > 0 && i%*gzipEvery == 0 {
					opts = append(opts, grpc.UseCompressor("gzip"))
				}
				if *streamEvery > 0 && i%*streamEvery == 0 {
					streams.Add(1)
					if n, err := watch(ctx, hc, req, opts); err != nil || n != *updates {
						failed.Add(1)
					}
					continue
				}
				unary.Add(1)
				if _, err := hc.Check(ctx, req, opts...); err != nil {
					failed.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	fmt.Printf("grpcload: %d unary calls, %d Watch streams, %d failed\n", unary.Load(), streams.Load(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// watch reads a Watch stream to its end and returns the messages it had.
func watch(ctx context.Context, hc healthpb.HealthClient, req *healthpb.HealthCheckRequest, opts []grpc.CallOption) (int, error) {
	stream, err := hc.Watch(ctx, req, opts...)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
