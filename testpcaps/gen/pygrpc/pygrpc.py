#!/usr/bin/python3
"""gRPC traffic from a second implementation, Debian's python3-grpcio
(the gRPC C core under Python), for the gogrpc tests.

One process runs a server and a client on ADDR over cleartext HTTP/2, one
TCP connection, and makes every kind of call, one after another:

  Check      unary                   {"service": "demo.Greeter"} -> SERVING
  Check      unary, gzip requested   {"service": "demo.Billing"} -> NOT_SERVING;
                                     the C core sends the 14-octet message
                                     uncompressed (flag 0) under
                                     grpc-encoding: gzip, as it does whenever
                                     gzip would not make a message smaller
  Check      unary, error            {"service": "no.such.Service"} -> NOT_FOUND
  Watch      server streaming        SERVING, NOT_SERVING, SERVING, then OK
  Report     client streaming, gzip  3 HealthReports (compressed) -> NOT_SERVING
  CheckEach  bidirectional, gzip     3 requests, each answered by a
             answers                 HealthReport (compressed; its service
                                     is the request's, cut to 32
                                     characters) before the next is sent;
                                     the third request is 20,000
                                     characters (two DATA frames)

The message types come from the descriptor set (testpcaps/grpc_health.pb,
services grpc.health.v1.Health and testpcaps.v1.HealthBatch) through
google.protobuf's descriptor_pool and message_factory: no generated code.
The server's method handlers follow the streaming flags in the descriptors.
The values are fixed; tests/gogrpc_test.go expects exactly these messages.

Usage (Debian's python3-grpcio and python3-protobuf, so /usr/bin/python3):
  /usr/bin/python3 pygrpc.py -addr 127.0.0.1:18445 -descriptors grpc_health.pb
"""

import argparse
import queue
import sys
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HEALTH = "grpc.health.v1.Health"
BATCH = "testpcaps.v1.HealthBatch"

# The third CheckEach request: long enough to span two DATA frames (the
# C core's frames carry at most 16,384 octets).
BIG_SERVICE = "0123456789abcdef" * 1250


def load_types(path):
    """The descriptor pool of a FileDescriptorSet file and the message
    classes by full name."""
    with open(path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    types = {}
    for name in ("grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse", "testpcaps.v1.HealthReport"):
        types[name] = factory.GetPrototype(pool.FindMessageTypeByName(name))
    return pool, types


def detail(status, backends):
    """The detail text of a HealthReport: one word per backend."""
    return "%s: %s" % (status, ", ".join("backend-%d %s" % (i, status) for i in range(backends)))


class Servicer:
    """The server's behaviour, one method per RPC of both services."""

    def __init__(self, types):
        self.resp = types["grpc.health.v1.HealthCheckResponse"]
        self.report = types["testpcaps.v1.HealthReport"]
        status = self.resp.DESCRIPTOR.enum_types_by_name["ServingStatus"]
        self.name = {v.number: v.name for v in status.values}
        self.SERVING = status.values_by_name["SERVING"].number
        self.NOT_SERVING = status.values_by_name["NOT_SERVING"].number
        self.SERVICE_UNKNOWN = status.values_by_name["SERVICE_UNKNOWN"].number
        self.statuses = {"": self.SERVING, "demo.Greeter": self.SERVING, "demo.Billing": self.NOT_SERVING}

    def status(self, service):
        return self.statuses.get(service, self.SERVICE_UNKNOWN)

    def worst(self, statuses):
        order = [self.SERVING, self.NOT_SERVING, self.SERVICE_UNKNOWN]
        return max(statuses, key=order.index)

    def Check(self, request, context):
        if request.service not in self.statuses:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service " + request.service)
        return self.resp(status=self.status(request.service))

    def Watch(self, request, context):
        # Three updates, then the stream ends with OK (a real health server
        # keeps it open until the client cancels).
        for st in (self.SERVING, self.NOT_SERVING, self.SERVING):
            yield self.resp(status=st)

    def Report(self, request_iterator, context):
        return self.resp(status=self.worst([r.status for r in request_iterator]))

    def CheckEach(self, request_iterator, context):
        context.set_compression(grpc.Compression.Gzip)
        for request in request_iterator:
            st = self.status(request.service)
            yield self.report(service=request.service[:32], status=st, detail=detail(self.name[st], 4))


def handlers(pool, servicer, types):
    """Generic handlers for the methods of both services that the servicer
    implements (not the health service's List), with the message types and
    streaming flags of their descriptors."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    out = []
    for name in (HEALTH, BATCH):
        methods = {}
        for m in pool.FindServiceByName(name).methods:
            if not hasattr(servicer, m.name):
                continue
            make = kinds[(m.client_streaming, m.server_streaming)]
            methods[m.name] = make(getattr(servicer, m.name),
                                   request_deserializer=types[m.input_type.full_name].FromString,
                                   response_serializer=types[m.output_type.full_name].SerializeToString)
        out.append(grpc.method_handlers_generic_handler(name, methods))
    return out


def run_client(channel, pool, types, sv):
    def stub(service, method):
        m = pool.FindServiceByName(service).methods_by_name[method]
        kind = {(False, False): "unary_unary", (False, True): "unary_stream",
                (True, False): "stream_unary", (True, True): "stream_stream"}[(m.client_streaming, m.server_streaming)]
        return getattr(channel, kind)("/%s/%s" % (service, method),
                                      request_serializer=types[m.input_type.full_name].SerializeToString,
                                      response_deserializer=types[m.output_type.full_name].FromString)

    req = types["grpc.health.v1.HealthCheckRequest"]
    report = types["testpcaps.v1.HealthReport"]
    check, watch = stub(HEALTH, "Check"), stub(HEALTH, "Watch")
    report_all, check_each = stub(BATCH, "Report"), stub(BATCH, "CheckEach")

    def expect(what, got, want):
        if got != want:
            sys.exit("pygrpc: %s: got %r, want %r" % (what, got, want))

    expect("Check demo.Greeter", check(req(service="demo.Greeter"), timeout=10).status, sv.SERVING)
    expect("Check demo.Billing (gzip)",
           check(req(service="demo.Billing"), timeout=10, compression=grpc.Compression.Gzip).status, sv.NOT_SERVING)
    try:
        check(req(service="no.such.Service"), timeout=10)
        sys.exit("pygrpc: an unknown service was accepted")
    except grpc.RpcError as e:
        expect("Check no.such.Service", e.code(), grpc.StatusCode.NOT_FOUND)

    got = [r.status for r in watch(req(service="demo.Greeter"), timeout=10)]
    expect("Watch", got, [sv.SERVING, sv.NOT_SERVING, sv.SERVING])

    found = [("demo.Greeter", sv.SERVING), ("demo.Billing", sv.NOT_SERVING), ("demo.Greeter", sv.SERVING)]
    reports = [report(service=n, status=st, detail=detail(sv.name[st], 4)) for n, st in found]
    got = report_all(iter(reports), timeout=10, compression=grpc.Compression.Gzip).status
    expect("Report", got, sv.NOT_SERVING)

    # Bidirectional, in lock step: the next request goes out only after
    # the answer to the previous one has arrived.
    names = ["demo.Greeter", "no.such.Service", BIG_SERVICE]
    answered = queue.Queue()

    def requests():
        for n in names:
            yield req(service=n)
            answered.get(timeout=10)

    got = []
    for r in check_each(requests(), timeout=10):
        got.append(r.status)
        answered.put(True)
    expect("CheckEach", got, [sv.SERVING, sv.SERVICE_UNKNOWN, sv.SERVICE_UNKNOWN])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-addr", default="127.0.0.1:18445", help="listen and dial address")
    ap.add_argument("-descriptors", required=True, help="FileDescriptorSet with both services (grpc_health.pb)")
    args = ap.parse_args()

    pool, types = load_types(args.descriptors)
    servicer = Servicer(types)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(handlers(pool, servicer, types))
    if server.add_insecure_port(args.addr) == 0:
        sys.exit("pygrpc: cannot listen on " + args.addr)
    server.start()
    try:
        with grpc.insecure_channel(args.addr) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            run_client(channel, pool, types, servicer)
    finally:
        server.stop(grace=1).wait()
    print("pygrpc: grpcio %s, all calls as expected" % grpc.__version__)


if __name__ == "__main__":
    main()
