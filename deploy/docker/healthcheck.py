#!/usr/bin/env python
"""Container health check for the Kopa images (installed as /usr/local/bin/kopa-healthcheck).

    kopa-healthcheck grpc [HOST:PORT]   standard gRPC health service, overall status ("")
                                        default 127.0.0.1:$GRPC_PORT
    kopa-healthcheck http [URL]         HTTP 200 expected; default
                                        http://127.0.0.1:$GATEWAY_PORT/healthz

Exit 0 when healthy, 1 otherwise (the reason goes to stderr, which Docker keeps in
`docker inspect`). Kubernetes does not use this: it probes gRPC and HTTP natively.
"""

from __future__ import annotations

import os
import sys

TIMEOUT_SECONDS = 3.0


def check_grpc(address: str) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError as err:
            return f"{address}: {err.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def check_http(url: str) -> str | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as reply:  # noqa: S310
            status = reply.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError as err:
        return f"{url}: {err}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    kind = argv[0] if argv else "grpc"
    if kind == "grpc":
        target = argv[1] if len(argv) > 1 else f"127.0.0.1:{os.environ.get('GRPC_PORT', '')}"
        if target.endswith(":"):
            sys.stderr.write("kopa-healthcheck: GRPC_PORT is not set and no address given\n")
            return 1
        problem = check_grpc(target)
    elif kind == "http":
        port = os.environ.get("GATEWAY_PORT", "8000")
        problem = check_http(argv[1] if len(argv) > 1 else f"http://127.0.0.1:{port}/healthz")
    else:
        sys.stderr.write(f"kopa-healthcheck: unknown check {kind!r} (grpc or http)\n")
        return 1  # Docker reserves exit code 2
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
