"""OpenTelemetry: one tracer provider per process, W3C trace context across every hop.

gRPC calls carry the context in metadata (the instrumentation's interceptors); AMQP messages
carry it in their headers (`inject_headers` / `extract_context`). Spans are exported over OTLP
when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise they are created unrecorded, so trace ids
still reach the logs and the gateway's `traceparent` response header.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased


def configure_tracing(service: str, otlp_endpoint: str = "") -> None:
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    # With nowhere to send spans, a root span is not recorded (a caller's sampled trace still
    # is): it keeps its trace and span ids for the logs and `traceparent`, and costs a tenth.
    sampler = ParentBased(ALWAYS_ON if otlp_endpoint else ALWAYS_OFF)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"kopa-{service}"}), sampler=sampler
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(headers: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, Any] | None) -> context.Context:
    return propagate.extract({k: str(v) for k, v in (headers or {}).items()})


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")
