"""What the notification channels' tests need around the real servers: where Kannel and the
SMTP server are (deploy/local/servers.env, the environment winning), what fakesmsc was handed
and what landed in the SMTP Maildir, real HTTP(S) listeners that record every request, and a
self-signed certificate for the TLS paths."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import mailbox
import os
import re
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools.fleet import local_server_urls

CHANNEL_VARS = (
    "KANNEL_SENDSMS_URL",
    "KANNEL_USERNAME",
    "KANNEL_PASSWORD",
    "KOPA_FAKESMSC_LOG",
    "SMTP_URL",
    "KOPA_SMTP_MAILDIR",
)


def channel_env() -> dict[str, str]:
    """Kannel's and the SMTP server's settings; fails (never skips) when `make servers` has
    not written them and the environment does not give them."""
    env = {**local_server_urls(), **{k: os.environ[k] for k in CHANNEL_VARS if k in os.environ}}
    missing = [k for k in CHANNEL_VARS if not env.get(k)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} unknown: run `deploy/local/infra.sh start kannel smtp` "
            "(it writes deploy/local/servers.env) or export them",
            pytrace=False,
        )
    return env


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- fakesmsc ------------------------------------------------------------------------------

# `... DEBUG: Got message 3: <sender receiver text|data|ucs-2 payload>` (test/fakesmsc.c)
FAKESMSC_LINE = re.compile(r"Got message \d+: <(\S+) (\S+) (text|data|ucs-2) (.*)>$")


@dataclass(frozen=True)
class Sms:
    sender: str
    receiver: str
    coding: str  # text (GSM 7-bit), data (8-bit), ucs-2
    text: str


def _payload(coding: str, payload: str) -> str:
    if coding == "text":  # Kannel keeps 7-bit texts as UTF-8 and hands them over as they are
        return payload
    # url-encoded bytes, a space written "+"
    raw = unquote_to_bytes(payload.replace("+", "%20"))
    return raw.decode("utf-16-be") if coding == "ucs-2" else raw.decode("latin-1")


def fakesmsc_messages(log: str) -> list[Sms]:
    """Every message fakesmsc received, oldest first. A text with a line break shows as two
    lines in that log (the fake SMSC's protocol is line-based), so tests send single lines."""
    found = []
    for line in Path(log).read_text(encoding="utf-8", errors="replace").splitlines():
        match = FAKESMSC_LINE.search(line)
        if match:
            sender, receiver, coding, payload = match.groups()
            found.append(Sms(sender, receiver, coding, _payload(coding, payload)))
    return found


def sms_to(log: str, receiver: str) -> list[Sms]:
    return [sms for sms in fakesmsc_messages(log) if sms.receiver == receiver]


# --- SMTP ----------------------------------------------------------------------------------


def maildir_messages(path: str) -> list[EmailMessage]:
    """Every message in the Maildir, parsed with the modern email policy (`get_content()`
    decodes the body)."""
    box = mailbox.Maildir(path, factory=None, create=False)
    messages = []
    for key in box.iterkeys():
        with box.get_file(key) as raw:
            parsed = message_from_bytes(raw.read(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def mail_to(path: str, address: str) -> list[EmailMessage]:
    return [m for m in maildir_messages(path) if m["X-RcptTo"] == address]


# --- TLS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts only `server`'s certificate


def self_signed(hostname: str = "localhost") -> Tls:
    """A certificate for `hostname` and 127.0.0.1, with a server context serving it and a
    client context trusting it alone."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # load_cert_chain reads files only
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "cert.pem").write_bytes(cert_pem)
        (Path(folder) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return Tls(server=server, client=client)


# --- HTTP listeners ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    # seconds to wait before answering (cut short when the listener closes)
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, document: object) -> Answer:
        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json"})


class Listener:
    """A real HTTP (or, with `tls`, HTTPS) server on 127.0.0.1 in a thread of its own, which
    records every request and gives each the same `answer` (changeable between requests)."""

    def __init__(self, answer: Answer | None = None, *, tls: ssl.SSLContext | None = None):
        self.answer = answer or Answer()
        self.requests: list[Received] = []
        self._closing = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._record()

            def do_POST(self) -> None:
                self._record()

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                listener.requests.append(
                    Received(
                        method=self.command,
                        path=parts.path,
                        query=parse_qs(parts.query, keep_blank_values=True),
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=self.rfile.read(length),
                    )
                )
                answer = listener.answer
                if answer.delay and listener._closing.wait(answer.delay):
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                # a client that reads only the start of a long answer hangs up
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests assert on `requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # a short poll: closing waits for it
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
