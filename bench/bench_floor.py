"""The floor under a repayment's CPU: what each kind of step the money path is made of costs on
this machine with none of Kopa's own code in it, and what a repayment costs at least when made
of that many steps.

    python bench/bench_floor.py [--requests 4000] [--concurrency 16]

Each part runs at the repayment bench's concurrency and reports CPU per operation, by process:

- ``http``: an empty FastAPI route (a small JSON body in, a small JSON answer out) served by
  uvicorn exactly as the gateway is served; the server's CPU (the load generator is left out,
  as in bench_repayments).
- ``grpc``: an empty unary call (grpc.health.v1 Check) between two grpc.aio processes, the
  server's CPU and the client's: a hop costs both.
- ``mongo``: a find by ``_id`` and an ``$inc`` update by ``_id`` from PyMongo's async client on
  the local MongoDB-wire server (FerretDB over PostgreSQL): the servers' CPU and the client's.
- ``amqp``: a persistent 400-byte event published with confirms on a topic exchange and
  consumed (and acked) from a durable queue with aio-pika: RabbitMQ's CPU and the client's
  (publisher and consumer in one process).

The floor of a repayment is then 1 HTTP request, ``--hops`` gRPC calls (gateway -> payment ->
loan), ``--statements`` MongoDB-wire statements (bench_repayments counts them), ``--publishes``
events published and ``--deliveries`` consumed (loan.repayment_applied reaches payment,
reporting and scoring; payment publishes payment.posted), with every step as cheap as the
empty one. Elasticsearch (reporting's index) is left out: the floor is lower than any real
repayment's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import grpc
import httpx
from bench_repayments import cpu_seconds, pids_matching
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parent.parent

HTTP_SERVER = """
import sys
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

class Body(BaseModel):
    loan_id: str
    amount: str
    paid_on: str

app = FastAPI()

@app.post("/v1/echo")
async def echo(body: Body) -> dict[str, str]:
    return {"loan_id": body.loan_id, "amount": body.amount, "status": "posted"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, proxy_headers=False)
"""

GRPC_SERVER = """
import asyncio, sys
import grpc
from grpc_health.v1 import health, health_pb2_grpc

async def main():
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(code: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=ROOT)


async def drive(n: int, concurrency: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Runs `op` n times at `concurrency`; returns the wall time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await op(queue.get_nowait())

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


def own_cpu() -> float:
    return time.process_time()


def report(part: str, n: int, wall: float, costs: dict[str, float]) -> float:
    total = sum(costs.values())
    by = "  ".join(f"{name} {ms:.3f}" for name, ms in costs.items())
    print(f"{part:6} {n / wall:8.0f}/s  CPU ms per op: {total:.3f}  ({by})")
    return total


async def http_part(n: int, concurrency: int) -> float:
    port = free_port()
    server = start(HTTP_SERVER, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    await client.get("/docs")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            body = {"loan_id": "loan_" + "x" * 26, "amount": "1250.50", "paid_on": "2026-12-07"}

            async def op(_: int) -> None:
                reply = await client.post("/v1/echo", json=body)
                assert reply.status_code == 200

            await drive(200, concurrency, op)
            before = cpu_seconds([server.pid])
            wall = await drive(n, concurrency, op)
            server_ms = (cpu_seconds([server.pid]) - before) * 1000 / n
    finally:
        server.terminate()
        server.wait()
    return report("http", n, wall, {"uvicorn+fastapi": server_ms})


async def grpc_part(n: int, concurrency: int) -> float:
    port = free_port()
    server = start(GRPC_SERVER, port)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), 20)
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="")

            async def op(_: int) -> None:
                reply = await stub.Check(request)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING

            await drive(200, concurrency, op)
            before, mine = cpu_seconds([server.pid]), own_cpu()
            wall = await drive(n, concurrency, op)
            server_ms = (cpu_seconds([server.pid]) - before) * 1000 / n
            client_ms = (own_cpu() - mine) * 1000 / n
    finally:
        server.terminate()
        server.wait()
    return report("grpc", n, wall, {"server": server_ms, "client": client_ms})


async def mongo_part(n: int, concurrency: int) -> float:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(os.environ["MONGODB_URL"])
    db = client[f"benchfloor{secrets.token_hex(3)}"]
    docs = [{"_id": f"doc_{i}", "version": 0, "amount": "1250.50"} for i in range(64)]
    await db.loans.insert_many(docs)

    async def op(i: int) -> None:
        key = {"_id": f"doc_{i % 64}"}
        if i % 2:
            await db.loans.update_one(key, {"$inc": {"version": 1}})
        else:
            assert await db.loans.find_one(key) is not None

    try:
        await drive(200, concurrency, op)
        servers = pids_matching(("kopa-ferretdb", "postgres"))
        before = {name: cpu_seconds(pids) for name, pids in servers.items()}
        mine = own_cpu()
        wall = await drive(n, concurrency, op)
        after = pids_matching(("kopa-ferretdb", "postgres"))
        costs = {name: (cpu_seconds(after[name]) - before[name]) * 1000 / n for name in servers}
        costs["client"] = (own_cpu() - mine) * 1000 / n
    finally:
        await client.drop_database(db.name)
        await client.close()
    return report("mongo", n, wall, costs)


async def amqp_part(n: int, concurrency: int) -> float:
    connection = await aio_pika.connect_robust(os.environ["AMQP_URL"])
    name = f"benchfloor.{secrets.token_hex(3)}"
    body = secrets.token_bytes(400)
    try:
        publishing = await connection.channel(publisher_confirms=True)
        exchange = await publishing.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        consuming = await connection.channel()
        await consuming.set_qos(prefetch_count=64)
        queue = await consuming.declare_queue(name, durable=True, auto_delete=True)
        await queue.bind(exchange, "loan.*")
        received = 0
        done = asyncio.Event()
        target = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received >= target:
                done.set()

        await queue.consume(on_message)

        async def op(_: int) -> None:
            await exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="loan.repayment_applied",
            )

        async def run(count: int) -> float:
            nonlocal target
            target = received + count
            done.clear()
            began = time.perf_counter()
            await drive(count, concurrency, op)
            await asyncio.wait_for(done.wait(), 120)
            return time.perf_counter() - began

        await run(200)
        broker = pids_matching(("beam.smp",))["beam.smp"]
        before, mine = cpu_seconds(broker), own_cpu()
        wall = await run(n)
        costs = {
            "rabbitmq": (cpu_seconds(broker) - before) * 1000 / n,
            "client": (own_cpu() - mine) * 1000 / n,
        }
    finally:
        await connection.close()
    return report("amqp", n, wall, costs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--hops", type=float, default=2)
    parser.add_argument("--statements", type=float, default=9.4)
    parser.add_argument("--publishes", type=float, default=2)
    parser.add_argument("--deliveries", type=float, default=3)
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    print(f"{n} operations of each part at concurrency {c}\n")
    http = await http_part(n, c)
    hop = await grpc_part(n, c)
    statement = await mongo_part(n, c)
    # A message costs its publish and its delivery; split evenly between the two.
    message = await amqp_part(n, c)
    floor = (
        http
        + args.hops * hop
        + args.statements * statement
        + (args.publishes + args.deliveries) * message / 2
    )
    print(
        f"\nfloor of a repayment ({args.hops:g} hops, {args.statements:g} statements, "
        f"{args.publishes:g} publishes, {args.deliveries:g} deliveries, 1 HTTP request): "
        f"{floor:.1f} ms of CPU -> at most {2000 / floor:.0f} repayments/s on 2 cores"
    )


if __name__ == "__main__":
    asyncio.run(main())
