"""Events a consumer parked in its dead-letter queue: list them, or replay them once the
cause is fixed.

    python tools/dead_letters.py list QUEUE
    python tools/dead_letters.py replay QUEUE

QUEUE is the consumer's queue, e.g. ``kopa.payment`` (namespace, a dot, the service).
The broker is ``AMQP_URL`` from the environment or deploy/local/servers.env, the namespace
``KOPA_NAMESPACE`` (default ``kopa``). A replayed event goes back to the events exchange
with its own routing key and id; consumers that already handled it skip it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from shared.events import DeadLetter, dead_letters, replay_dead_letters
from tools.fleet import local_server_urls


def amqp_url() -> str:
    url = local_server_urls().get("AMQP_URL")
    if url:
        return url
    sys.exit("AMQP_URL is not set and deploy/local/servers.env has none: run `make servers`")


def show(letter: DeadLetter) -> str:
    # The reason last: a handler's own (`shared.events.Unprocessable`) is a sentence.
    return f"{letter.event_id:36} {letter.routing_key:28} {letter.died_at:32} {letter.reason}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("queue", help="the consumer's queue, e.g. kopa.payment")
    args = parser.parse_args()
    url = amqp_url()
    if args.action == "list":
        letters = asyncio.run(dead_letters(url, args.queue))
        for letter in letters:
            print(show(letter))
        print(f"{len(letters)} event(s) in {args.queue}.dlq")
        return
    namespace = os.environ.get("KOPA_NAMESPACE", "kopa")
    count = asyncio.run(
        replay_dead_letters(
            url, namespace, args.queue, progress=lambda letter: print("replayed", show(letter))
        )
    )
    print(f"{count} event(s) replayed from {args.queue}.dlq")


if __name__ == "__main__":
    main()
