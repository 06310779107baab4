"""Smoke check of the local servers, through the same URLs the services read.

Run by `deploy/local/infra.sh check`, or directly after
`set -a; . deploy/local/servers.env; set +a`.
Each check uses a unique name so it never collides with data of the services or tests.
Exit status 0 when every server answered as expected.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

DEFAULTS = {
    "MONGODB_URL": "mongodb://127.0.0.1:27017/",
    "ELASTICSEARCH_URL": "http://127.0.0.1:9200",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "KANNEL_SENDSMS_URL": "http://127.0.0.1:13013/cgi-bin/sendsms",
    "KANNEL_USERNAME": "kopa",
    "KANNEL_PASSWORD": "kopa-local",
    "KOPA_FAKESMSC_LOG": "/var/lib/kopa/log/fakesmsc.log",
    "SMTP_URL": "smtp://127.0.0.1:2525",
    "KOPA_SMTP_MAILDIR": "/var/lib/kopa/data/smtp",
}


def url(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


RUN = uuid.uuid4().hex[:12]


def check_mongodb() -> str:
    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(
        url("MONGODB_URL"), serverSelectionTimeoutMS=5000
    )
    try:
        client.admin.command("ping")
        coll = client["kopa_smoke"][f"loans_{RUN}"]
        coll.create_index([("institution_id", 1), ("national_id", 1)], unique=True)
        doc = {"institution_id": "inst-1", "national_id": "NID-1", "version": 1, "outbox": []}
        loan_id = coll.insert_one(doc).inserted_id
        res = coll.update_one(
            {"_id": loan_id, "version": 1},
            {
                "$set": {"status": "APPROVED"},
                "$inc": {"version": 1},
                "$push": {"outbox": {"type": "loan.approved"}},
            },
        )
        assert res.modified_count == 1, res.raw_result
        found = coll.find_one({"institution_id": "inst-1", "national_id": "NID-1"})
        assert (
            found is not None
            and found["version"] == 2
            and found["outbox"][0]["type"] == "loan.approved"
        ), found
        try:
            coll.insert_one(dict(doc))
            raise AssertionError("unique index not enforced")
        except pymongo.errors.DuplicateKeyError:
            pass
        coll.drop()
        version = client.server_info().get("version")
        return f"insert/update/find/unique index ok (reports MongoDB {version})"
    finally:
        client.close()


def check_elasticsearch() -> str:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(url("ELASTICSEARCH_URL"), request_timeout=10)
    index = f"kopa-smoke-{RUN}"
    try:
        health = es.cluster.health(wait_for_status="yellow", timeout="10s")
        es.indices.create(
            index=index,
            mappings={
                "properties": {"full_name": {"type": "text"}, "national_id": {"type": "keyword"}}
            },
        )
        es.index(
            index=index,
            id="b1",
            document={"full_name": "Amina Wanjiru", "national_id": "NID-1"},
            refresh=True,
        )
        hits = es.search(
            index=index,
            query={"match": {"full_name": {"query": "Amena Wanjeru", "fuzziness": "AUTO"}}},
        )
        assert hits["hits"]["total"]["value"] == 1, hits
        es.indices.delete(index=index)
        return f"index + fuzzy match search ok (cluster {health['status']})"
    finally:
        es.close()


def check_rabbitmq() -> str:
    import aio_pika

    async def run() -> str:
        connection = await aio_pika.connect_robust(url("AMQP_URL"), timeout=10)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                f"kopa.smoke.{RUN}", aio_pika.ExchangeType.TOPIC, auto_delete=True
            )
            queue = await channel.declare_queue(f"kopa.smoke.{RUN}", exclusive=True)
            await queue.bind(exchange, routing_key="loan.*")
            await exchange.publish(
                aio_pika.Message(body=b"hello", headers={"traceparent": "00-x"}),
                routing_key="loan.disbursed",
            )
            message = await queue.get(timeout=5, fail=False)
            for _ in range(50):
                if message is not None:
                    break
                await asyncio.sleep(0.1)
                message = await queue.get(timeout=5, fail=False)
            assert message is not None, "message not delivered"
            await message.ack()
            assert message.body == b"hello" and message.routing_key == "loan.disbursed"
            await exchange.delete()
        return "topic exchange publish + consume ok"

    return asyncio.run(run())


def check_redis() -> str:
    import redis

    r = redis.Redis.from_url(url("REDIS_URL"), socket_timeout=5)
    try:
        assert r.ping()
        key = f"kopa:smoke:{RUN}"
        assert r.set(key, "1", ex=60, nx=True)
        assert r.get(key) == b"1"
        r.delete(key)
        return f"ping + SET NX/GET ok (redis {r.info('server')['redis_version']})"
    finally:
        r.close()


def wait_for(found: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {limit:.0f} s")
        time.sleep(0.1)


def check_kannel() -> str:
    import httpx

    text = f"kopa smoke {RUN}"
    answer = httpx.get(
        url("KANNEL_SENDSMS_URL"),
        params={
            "username": url("KANNEL_USERNAME"),
            "password": url("KANNEL_PASSWORD"),
            "to": "+254700000000",
            "text": text,
        },
        timeout=10,
    )
    assert answer.status_code == 202, f"{answer.status_code} {answer.text}"
    log = url("KOPA_FAKESMSC_LOG")
    wait_for(lambda: text in Path(log).read_text(encoding="utf-8", errors="replace"), log)
    return f"sendsms {answer.text.strip()!r}, received by fakesmsc"


def check_smtp() -> str:
    import smtplib
    from email.message import EmailMessage
    from urllib.parse import urlparse

    target = urlparse(url("SMTP_URL"))
    message = EmailMessage()
    message["From"] = "smoke@kopa.test"
    message["To"] = "officer@kopa.test"
    message["Subject"] = f"kopa smoke {RUN}"
    message.set_content("Habari")
    with smtplib.SMTP(target.hostname or "127.0.0.1", target.port or 25, timeout=10) as smtp:
        smtp.send_message(message)
    box = mailbox.Maildir(url("KOPA_SMTP_MAILDIR"), create=False)
    wait_for(lambda: any(m["Subject"] == message["Subject"] for m in box), "the message")
    return "sent and found in the Maildir"


CHECKS: dict[str, Callable[[], str]] = {
    "mongodb": check_mongodb,
    "elasticsearch": check_elasticsearch,
    "rabbitmq": check_rabbitmq,
    "redis": check_redis,
    "kannel": check_kannel,
    "smtp": check_smtp,
}


def main() -> int:
    failed = 0
    for name, check in CHECKS.items():
        t0 = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # report every server, then fail
            failed += 1
            sys.stdout.write(f"[check] {name:13s} FAILED: {type(exc).__name__}: {exc}\n")
        else:
            sys.stdout.write(
                f"[check] {name:13s} ok  {detail} ({time.perf_counter() - t0:.2f} s)\n"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
