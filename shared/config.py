"""Settings from the environment only: one class per service, inheriting `ServiceSettings`.

A missing or malformed variable stops start-up with a message naming it.
"""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every peer's address comes from one place, so a deployment sets them once in its env file.
DEFAULT_PORTS = {
    "auth": 50051,
    "user": 50052,
    "loan": 50053,
    "payment": 50054,
    "scoring": 50055,
    "reporting": 50056,
    "notification": 50057,
}


class BaseKopaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    kopa_env: str = Field("local", description="`local`, `test` or `production`")
    kopa_namespace: str = Field(
        "kopa",
        pattern=r"^[a-z][a-z0-9]{0,30}$",
        description="prefix of databases, exchanges, queues and indexes, so that several "
        "fleets (a test run beside a dev platform) can share one set of servers",
    )
    log_level: str = "info"
    log_json: bool | None = Field(None, description="JSON logs; default: when not on a terminal")
    otel_exporter_otlp_endpoint: str = ""

    auth_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['auth']}"
    user_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['user']}"
    loan_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['loan']}"
    payment_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['payment']}"
    scoring_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['scoring']}"
    reporting_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['reporting']}"
    notification_service_addr: str = f"127.0.0.1:{DEFAULT_PORTS['notification']}"

    redis_url: str = Field(..., description="e.g. redis://127.0.0.1:6379/0")
    max_document_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        le=15 * 1024 * 1024,
        description="the largest KYC document accepted, by the gateway and user_service alike "
        "(a gRPC message carries it whole: at most 15 MiB, shared.grpc_server)",
    )

    @property
    def production(self) -> bool:
        return self.kopa_env == "production"


class ServiceSettings(BaseKopaSettings):
    """What every gRPC service needs: its servers and its own port."""

    mongodb_url: str = Field(..., description="e.g. mongodb://127.0.0.1:27017/")
    amqp_url: str = Field(..., description="e.g. amqp://guest:guest@127.0.0.1:5672/")
    outbox_sweep_seconds: float = Field(
        10.0,
        gt=0,
        description="how often the outbox relay looks for events a crash left unpublished "
        "(the write path publishes at once; the sweep is only the safety net, and on FerretDB "
        "it scans whole collections)",
    )
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    mongodb_database: str = ""

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSettings:
        name = self.service_name()
        if not self.grpc_port:
            self.grpc_port = DEFAULT_PORTS[name]
        if not self.mongodb_database:
            self.mongodb_database = f"{self.kopa_namespace}_{name}"
        return self

    @classmethod
    def service_name(cls) -> str:
        raise NotImplementedError


class ServiceCredentialSettings(BaseKopaSettings):
    """For the services that take part in service-to-service authentication: auth_service,
    which issues service tokens, and the services that ask for them (payment_service)."""

    kopa_service_secret: SecretStr | None = Field(
        None,
        validate_default=True,
        description="the internal credential a Kopa service presents to auth_service for a "
        "short-lived service token; the same random value (32+ characters) on both sides. "
        "Required in production; without it, locally, nothing that needs a service token runs",
    )

    @field_validator("kopa_service_secret")
    @classmethod
    def _service_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        production = info.data.get("kopa_env") == "production"
        if value is None and production:
            raise ValueError("is required in production (a random value of 32+ characters)")
        minimum = 32 if production else 16
        if value is not None and len(value.get_secret_value()) < minimum:
            raise ValueError(f"must be at least {minimum} characters")
        return value


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Builds the settings or exits naming every missing or invalid variable."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            var = "_".join(str(p) for p in err["loc"]).upper()
            what = "is required but not set" if err["type"] == "missing" else err["msg"]
            lines.append(f"  {var} {what}")
        sys.stderr.write(
            f"{cls.__name__}: cannot start, fix the environment:\n" + "\n".join(lines) + "\n"
            "  (the local values are in deploy/local/servers.env; `make up` writes it)\n"
        )
        raise SystemExit(2) from None
