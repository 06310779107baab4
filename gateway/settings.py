from __future__ import annotations

from pydantic import Field

from shared.config import BaseKopaSettings


class GatewaySettings(BaseKopaSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    max_body_bytes: int = Field(256 * 1024, description="larger bodies get 413")
    rate_limit_per_minute: int = Field(600, description="per principal (or client address)")
    login_rate_limit_per_minute: int = Field(30, description="per client address")
    delivery_report_rate_limit_per_minute: int = Field(
        12_000,
        description="per client address: one Kannel smsbox sends every SMS delivery report, "
        "at the rate messages go out (200 a second is the benchmark's goal)",
    )
    upstream_timeout_seconds: float = 15.0
