"""Counts the statements a process sends on the MongoDB wire, for benchmarks and budget tests.

Off unless ``KOPA_MONGO_STATEMENTS_DIR`` names a directory: then every client made by
`shared.mongo.connect` counts each command it starts (by command name, as PyMongo's command
monitoring reports it, and collection: ``find loans``, ``update payments``, ``getMore``...)
and a daemon thread rewrites ``<dir>/<app>-<pid>.json`` every `FLUSH_SECONDS`. A reader
sums the files before and after its load (waiting `FLUSH_SECONDS` for the last flush) to
get statements per request across every process, background relays and consumers included.

Why a listener and not the server's metrics: the same figure is then counted against
FerretDB and MongoDB, and it names the process that sent each statement.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from pymongo import monitoring

ENV = "KOPA_MONGO_STATEMENTS_DIR"
FLUSH_SECONDS = 1.0
#: Handshakes and heartbeats are the driver's, not the application's.
_DRIVER_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions"})


class StatementCounter(monitoring.CommandListener):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._written: dict[str, int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name not in _DRIVER_COMMANDS:
            target = event.command.get(name)
            key = f"{name} {target}" if isinstance(target, str) else name
            with self._lock:
                self.counts[key] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def flush(self) -> None:
        with self._lock:
            counts = dict(self.counts)
        if counts == self._written:
            return
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(counts))
        partial.replace(self.path)
        self._written = counts

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


def listeners(app_name: str) -> list[monitoring.CommandListener]:
    """The listeners a client should register: a counter when `ENV` is set, else none."""
    directory = os.environ.get(ENV)
    if not directory:
        return []
    Path(directory).mkdir(parents=True, exist_ok=True)
    counter = StatementCounter(Path(directory) / f"{app_name}-{os.getpid()}.json")
    threading.Thread(target=counter.flush_forever, name="statement-counts", daemon=True).start()
    return [counter]


def totals(directory: Path) -> dict[str, Counter[str]]:
    """Statements counted so far, by process name (the file's app name) and command."""
    found: dict[str, Counter[str]] = {}
    for path in directory.glob("*.json"):
        app = path.stem.rsplit("-", 1)[0]
        found.setdefault(app, Counter()).update(json.loads(path.read_text()))
    return found
