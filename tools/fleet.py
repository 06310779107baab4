"""Start, stop and check the Kopa fleet (seven services and the gateway) as local processes.

    python tools/fleet.py up      # servers must be running (deploy/local/infra.sh start)
    python tools/fleet.py down [--forget-broker]
    python tools/fleet.py status

Each process gets the server URLs from deploy/local/servers.env (or the environment), logs to
<state>/log/<name>.log and a pid file in <state>/run. `up` waits until every service answers
its gRPC health check and the gateway's /readyz says ready, then prints where everything is.
Tests start their own fleet with another --namespace and --port-base, beside a dev fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import aio_pika
import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["auth", "user", "loan", "payment", "scoring", "reporting", "notification"]
DEFAULT_STATE = ROOT / ".kopa"


def say(message: str) -> None:
    print(f"[fleet] {message}", flush=True)


SERVER_VARS = ("MONGODB_URL", "ELASTICSEARCH_URL", "AMQP_URL", "REDIS_URL")


def local_server_urls() -> dict[str, str]:
    """What deploy/local/servers.env says (`infra.sh start` writes it), with any server URL
    set in the environment winning: that is how production-like URLs are pointed at.
    Possibly incomplete (no servers started yet)."""
    env: dict[str, str] = {}
    path = ROOT / "deploy/local/servers.env"
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip().removeprefix("export ").strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value.strip().strip('"').strip("'")
    for key in SERVER_VARS:
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def server_env() -> dict[str, str]:
    env = local_server_urls()
    missing = [k for k in SERVER_VARS if k not in env]
    if missing:
        raise SystemExit(
            f"[fleet] {', '.join(missing)} unknown: run `deploy/local/infra.sh start` "
            "(it writes deploy/local/servers.env) or export them"
        )
    return env


def kept(path: Path, make: str) -> dict[str, str]:
    """`KEY=value` lines from `path`, written once with `make` (readable by us only) when
    the file does not exist yet, so a fleet keeps its generated secrets across restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(make)
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def bootstrap_credentials(state: Path) -> tuple[dict[str, str], Path | None]:
    """KOPA_BOOTSTRAP_EMAIL/PASSWORD from the environment, or generated once and kept."""
    if os.environ.get("KOPA_BOOTSTRAP_EMAIL") and os.environ.get("KOPA_BOOTSTRAP_PASSWORD"):
        return {
            "KOPA_BOOTSTRAP_EMAIL": os.environ["KOPA_BOOTSTRAP_EMAIL"],
            "KOPA_BOOTSTRAP_PASSWORD": os.environ["KOPA_BOOTSTRAP_PASSWORD"],
        }, None
    path = state / "bootstrap-credentials"
    password = f"Kp-{secrets.token_urlsafe(18)}"
    return kept(
        path, f"KOPA_BOOTSTRAP_EMAIL=admin@kopa.local\nKOPA_BOOTSTRAP_PASSWORD={password}\n"
    ), path


def service_secret(state: Path) -> dict[str, str]:
    """KOPA_SERVICE_SECRET (auth and payment share it: payment's service tokens) from the
    environment, or generated once per state directory and kept."""
    if os.environ.get("KOPA_SERVICE_SECRET"):
        return {"KOPA_SERVICE_SECRET": os.environ["KOPA_SERVICE_SECRET"]}
    return kept(state / "service-secret", f"KOPA_SERVICE_SECRET={secrets.token_urlsafe(32)}\n")


def ports(base: int) -> dict[str, int]:
    return {name: base + i + 1 for i, name in enumerate(SERVICES)}


def fleet_env(args: argparse.Namespace, state: Path) -> tuple[dict[str, str], Path | None]:
    env = {**os.environ, **server_env()}
    creds, creds_path = bootstrap_credentials(state)
    env.update(creds)
    env.update(service_secret(state))
    env["KOPA_NAMESPACE"] = args.namespace
    env["KOPA_ENV"] = env.get("KOPA_ENV", "local")
    env["LOG_JSON"] = "true"
    for name, port in ports(args.port_base).items():
        env[f"{name.upper()}_SERVICE_ADDR"] = f"127.0.0.1:{port}"
    env["GATEWAY_PORT"] = str(args.gateway_port)
    # Where the SMS gateway (Kannel, on this machine) reports delivery: this fleet's gateway.
    env.setdefault(
        "SMS_DELIVERY_REPORT_URL",
        f"http://127.0.0.1:{args.gateway_port}/v1/sms/delivery-reports",
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env, creds_path


def pid_of(state: Path, name: str) -> int | None:
    path = state / "run" / f"{name}.pid"
    if not path.exists():
        return None
    try:
        pid = int(path.read_text())
        # A killed process whose parent has not reaped it yet is a zombie: it is not running.
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if status not in ("Z", "X"):
            return pid
    except (ValueError, OSError):
        pass
    path.unlink(missing_ok=True)
    return None


def start(state: Path, name: str, module: str, env: dict[str, str]) -> None:
    if pid_of(state, name):
        say(f"{name}: already running")
        return
    (state / "run").mkdir(parents=True, exist_ok=True)
    (state / "log").mkdir(parents=True, exist_ok=True)
    log = open(state / "log" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (state / "run" / f"{name}.pid").write_text(str(proc.pid))


def grpc_serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(state: Path, name: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if pid_of(state, name) is None:
            raise SystemExit(
                f"[fleet] {name} exited during start-up. Its log:\n"
                f"{tail(state / 'log' / f'{name}.log')}"
            )
        time.sleep(0.2)
    raise SystemExit(
        f"[fleet] {name} not ready after {timeout:.0f} s. Its log:\n"
        f"{tail(state / 'log' / f'{name}.log')}"
    )


def up(args: argparse.Namespace) -> None:
    state = Path(args.state_dir)
    env, creds_path = fleet_env(args, state)
    started = time.monotonic()
    service_ports = ports(args.port_base)
    # auth first: every other service fetches its public keys from it.
    for name in SERVICES:
        start(state, name, f"{name}_service", {**env, "GRPC_PORT": str(service_ports[name])})
        if name == "auth":
            wait_for(state, name, lambda p=service_ports[name]: grpc_serving(p), args.timeout)
    for name in SERVICES[1:]:
        wait_for(state, name, lambda p=service_ports[name]: grpc_serving(p), args.timeout)
        say(f"{name}_service: serving on 127.0.0.1:{service_ports[name]}")
    start(state, "gateway", "gateway", env)
    url = f"http://127.0.0.1:{args.gateway_port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(state, "gateway", ready, args.timeout)
    say(f"up in {time.monotonic() - started:.1f} s")
    say(f"console:  {url}  (sign in with a staff account)")
    say(f"API:      {url}/v1, docs at {url}/docs and {url}/redoc")
    if creds_path:
        say(f"bootstrap platform admin credentials: {creds_path}")
    else:
        say("bootstrap platform admin: KOPA_BOOTSTRAP_EMAIL / KOPA_BOOTSTRAP_PASSWORD")
    say(f"logs: {state / 'log'}")


def down(args: argparse.Namespace) -> None:
    state = Path(args.state_dir)
    names = ["gateway", *reversed(SERVICES)]
    pids = {n: p for n in names if (p := pid_of(state, n))}
    for pid in pids.values():
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while pids and time.monotonic() < deadline:
        pids = {n: p for n, p in pids.items() if pid_of(state, n)}
        time.sleep(0.1)
    for name, pid in pids.items():
        say(f"{name}: did not stop in 20 s, killing")
        os.killpg(pid, signal.SIGKILL)
    for name in names:
        (state / "run" / f"{name}.pid").unlink(missing_ok=True)
    say("fleet stopped")
    if args.forget_broker:
        asyncio.run(forget_broker(server_env()["AMQP_URL"], args.namespace))
        say(f"namespace {args.namespace}: queues and exchanges deleted")


async def forget_broker(amqp_url: str, namespace: str) -> None:
    """Deletes what the namespace's services made on the broker: each consumer's queue (named
    after its service) with its dead-letter queue, and the exchanges. Durable queues outlive
    the fleet: a test's or a bench's throwaway namespace left them behind run after run, and
    938 of them made RabbitMQ take minutes to start. What is not there is skipped."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for service in SERVICES:
            for name in (f"{namespace}.{service}", f"{namespace}.{service}.dlq"):
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.queue_delete(name)
        for exchange in (f"{namespace}.events", f"{namespace}.events.dlx"):
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(exchange)


def status(args: argparse.Namespace) -> None:
    state = Path(args.state_dir)
    for name, port in ports(args.port_base).items():
        pid = pid_of(state, name)
        health = "SERVING" if pid and grpc_serving(port) else "down"
        say(f"{name:10} pid={pid or '-':<8} port={port} {health}")
    say(f"{'gateway':10} pid={pid_of(state, 'gateway') or '-'} port={args.gateway_port}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", default=os.environ.get("KOPA_FLEET_DIR", DEFAULT_STATE))
    parser.add_argument("--namespace", default=os.environ.get("KOPA_NAMESPACE", "kopa"))
    parser.add_argument("--port-base", type=int, default=50050)
    parser.add_argument(
        "--gateway-port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000"))
    )
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument(
        "--forget-broker",
        action="store_true",
        help="with down: delete the namespace's queues and exchanges (a throwaway namespace)",
    )
    args = parser.parse_args()
    {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    main()
