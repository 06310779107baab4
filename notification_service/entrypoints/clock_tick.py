"""One turn of the institution's clock, for a scheduler outside the service (the Kubernetes
CronJob in deploy/k8s/notification.yaml): closes every business day that is due, for every
institution, then exits. Safe beside running replicas: the clock's lease lets one at a time.

    python -m notification_service.entrypoints.clock_tick
"""

from __future__ import annotations

import asyncio

from notification_service.bootstrap import Settings, wire
from shared.config import load_settings
from shared.logging import configure_logging, get_logger
from shared.service import Runtime

log = get_logger(__name__)


async def tick_once(settings: Settings) -> int:
    runtime = Runtime(settings, "notification-clock")
    await runtime.connect()
    try:
        closed = await wire(settings, runtime).days.tick()
    finally:
        await runtime.close()
    for institution_id, day in closed:
        log.info("closed", institution_id=institution_id, business_date=day.isoformat())
    log.info("clock_tick_done", closed=len(closed))
    return len(closed)


def main() -> None:
    settings = load_settings(Settings)
    configure_logging("notification-clock", settings.log_level, settings.log_json)
    asyncio.run(tick_once(settings))


if __name__ == "__main__":
    main()
