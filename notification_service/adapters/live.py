"""The console's live feed: items published on Redis for the gateway's event stream."""

from __future__ import annotations

import redis.asyncio as aioredis

from notification_service.service_layer import ports
from notification_service.service_layer.ports import LiveItem
from shared.live import StreamItem, publish
from shared.logging import get_logger

log = get_logger(__name__)


class RedisLive(ports.Live):
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    async def publish(self, item: LiveItem) -> None:
        try:
            await publish(
                self._redis,
                self._namespace,
                StreamItem(
                    event=item.event,
                    id=item.id,
                    institution_id=item.institution_id,
                    branch_id=item.branch_id,
                    roles=list(item.roles),
                    permission=item.permission,
                    data=item.data,
                ),
            )
        except (aioredis.RedisError, OSError):
            # Live updates are a convenience: the lists hold everything.
            log.warning("live_publish_failed", event=item.event, id=item.id, exc_info=True)
