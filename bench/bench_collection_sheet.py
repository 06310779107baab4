"""The API time of an agent's collection sheet: `GET /v1/collection-sheets` through the gateway,
and the same sheet straight from loan_service (`GetCollectionSheet` over gRPC, which includes
its `BatchGetBorrowers` call to user_service) and that call alone, so the numbers split into
gateway, loan_service and user_service.

Starts its own fleet (own namespace and ports) on the local servers, with N active loans of
one agent each with an installment due (as `bench_console.py`), and prints p50/p95 over the
runs. With `--profile DIR` it then samples loan_service, user_service and the gateway with
py-spy (on the PATH, else through `uvx py-spy`) while it keeps asking for the sheet, and
writes one flame graph (SVG) and one top-frames table (text) per process into DIR.

    python bench/bench_collection_sheet.py [--installments 300] [--runs 40] [--profile DIR]

Goal (issue #11): the sheet of 300 installments rendered in under 1 s after Sign in, of which
this API call is a part.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
from bench_repayments import (
    SERVER_PROCESSES,
    cpu_seconds,
    fleet_pids,
    pids_matching,
    run_with_fleet,
    setup,
)
from profiling import print_top_frames, start_py_spy

from kopa.loan.v2 import loans_pb2, loans_pb2_grpc
from kopa.user.v2 import user_pb2, user_pb2_grpc


def service_addr(state: Path, name: str) -> str:
    """Where the fleet's `name` service listens (its GRPC_PORT, from its environment)."""
    pid = int((state / "run" / f"{name}.pid").read_text())
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    port = next(v.split(b"=", 1)[1] for v in environ if v.startswith(b"GRPC_PORT="))
    return f"127.0.0.1:{port.decode()}"


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(3):  # warm-up: connections, caches, first-call imports
        await call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return times


def report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{name}: p50 {statistics.median(times) * 1000:.1f} ms  p95 {p95 * 1000:.1f} ms  "
        f"min {ordered[0] * 1000:.1f} ms  over {len(times)} runs",
        flush=True,
    )


SAMPLED = ("gateway", "loan", "user")


async def profile(
    state: Path, out: Path, seconds: int, call: Callable[[], Awaitable[object]]
) -> None:
    """Samples the gateway and the two services while `call` runs back to back."""
    procs = await asyncio.to_thread(start_py_spy, state, out, seconds, SAMPLED)
    await asyncio.sleep(2)  # let py-spy attach
    deadline = time.perf_counter() + seconds
    calls = 0
    while time.perf_counter() < deadline:
        await call()
        calls += 1
    for proc in procs:
        await asyncio.to_thread(proc.wait)
    print(f"profiled {calls} sheets over {seconds} s into {out}", flush=True)
    print_top_frames(out, SAMPLED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installments", type=int, default=300)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--profile", type=Path, help="sample the processes with py-spy")
    parser.add_argument("--profile-seconds", type=int, default=15)
    args = parser.parse_args()

    async def load(url: str, email: str, state: Path) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            print(f"setting up {args.installments} active loans of one agent...", flush=True)
            _, agent, _ = await setup(client, email, args.installments)

            async def over_http() -> httpx.Response:
                reply = await client.get("/v1/collection-sheets", headers=agent)
                assert reply.status_code == 200, reply.text
                return reply

            # The setup's 600 requests as the agent used up its rate limit for a minute.
            for _ in range(10):
                first = await client.get("/v1/collection-sheets", headers=agent)
                if first.status_code != 429:
                    break
                await asyncio.sleep(float(first.headers.get("retry-after") or 1))
            assert first.status_code == 200, first.text
            sheet = first.json()
            assert len(sheet["items"]) == args.installments, len(sheet["items"])
            borrower_ids = sorted({i["borrower_id"] for i in sheet["items"]})
            metadata = (("authorization", agent["Authorization"]),)
            async with (
                grpc.aio.insecure_channel(service_addr(state, "loan")) as loan_channel,
                grpc.aio.insecure_channel(service_addr(state, "user")) as user_channel,
            ):
                loans = loans_pb2_grpc.LoanServiceStub(loan_channel)
                users = user_pb2_grpc.UserServiceStub(user_channel)

                def over_grpc() -> Awaitable[object]:
                    return loans.GetCollectionSheet(
                        loans_pb2.GetCollectionSheetRequest(), metadata=metadata
                    )

                def borrowers() -> Awaitable[object]:
                    return users.BatchGetBorrowers(
                        user_pb2.BatchGetBorrowersRequest(borrower_ids=borrower_ids),
                        metadata=metadata,
                    )

                print(f"sheet of {args.installments} installments:", flush=True)
                watched = {**fleet_pids(state), **pids_matching(SERVER_PROCESSES)}
                cpu_before = {k: cpu_seconds(v) for k, v in watched.items()}
                report("  GET /v1/collection-sheets (HTTP)", await timed(args.runs, over_http))
                spent = {k: cpu_seconds(v) - cpu_before[k] for k, v in watched.items()}
                calls = args.runs + 3  # with the warm-up
                busy = sorted(((s, k) for k, s in spent.items() if s > 0), reverse=True)
                print(
                    f"  CPU per sheet: {sum(spent.values()) / calls * 1000:.0f} ms in all ("
                    + ", ".join(f"{k} {s / calls * 1000:.0f}" for s, k in busy[:6])
                    + ")",
                    flush=True,
                )
                report("  loan_service GetCollectionSheet", await timed(args.runs, over_grpc))
                report(
                    f"  user_service BatchGetBorrowers ({len(borrower_ids)})",
                    await timed(args.runs, borrowers),
                )
                if args.profile:
                    await profile(state, args.profile, args.profile_seconds, over_http)

    run_with_fleet(load)


if __name__ == "__main__":
    main()
