"""What the staff console receives live: notifications and alerts pushed by notification_service
over Redis pub/sub and forwarded by the gateway's event stream (`GET /v1/events/stream`) to each
signed-in user allowed to see them.

One channel per institution, named here only (`stream_channel`), so the publisher and the
gateway cannot drift apart. Pub/sub keeps nothing: an item published while nobody listens is
gone, which suits a live view (the console reloads the lists it shows when it reconnects).

An item is JSON: `{"event", "id", "institution_id", "branch_id", "roles", "permission",
"data"}`. Who sees it (`StreamItem.visible_to`): a user whose role holds `permission`; of the
`roles` named (none named: every role; an admin always); and, for agents and branch managers,
only an item of their own branch or of none. The channel is the institution's, so a user hears
only their own institution's items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from shared.permissions import BRANCH_SCOPED_ROLES, Principal, Role, can

EVENTS = ("notification", "alert")
"""The SSE `event:` names the console listens for."""


def stream_channel(namespace: str, institution_id: str) -> str:
    """The Redis pub/sub channel of one institution's live items (the namespace keeps another
    fleet on the same Redis out of it)."""
    return f"{namespace}:stream:{institution_id}"


@dataclass(frozen=True)
class StreamItem:
    #: One of EVENTS.
    event: str
    #: The notification's or the alert's id (the SSE `id:`).
    id: str
    institution_id: str
    #: The permission a user's role must hold to see it (`notifications:read`, `alerts:read`).
    permission: str
    #: What the console shows at once, with the resource's `id` (a summary: the REST API
    #: answers the whole resource).
    data: dict[str, Any]
    #: Empty: no branch (everyone of the institution allowed may see it).
    branch_id: str = ""
    #: Empty: every role holding `permission`.
    roles: Sequence[str] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> StreamItem:
        """`ValueError` for anything but an item as `to_json` writes it."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("a live item is a JSON object")
        event, roles, data = raw.get("event"), raw.get("roles", []), raw.get("data")
        texts = [raw.get(k, "") for k in ("id", "institution_id", "permission", "branch_id")]
        if (
            event not in EVENTS
            or not all(isinstance(t, str) for t in texts)
            or not isinstance(roles, list)
            or not all(isinstance(r, str) for r in roles)
            or not isinstance(data, dict)
        ):
            raise ValueError("a live item needs an event name, text ids, a list of roles and data")
        item_id, institution_id, permission, branch_id = texts
        return cls(event, item_id, institution_id, permission, data, branch_id, tuple(roles))

    def visible_to(self, principal: Principal) -> bool:
        """Whether a user of the item's institution (its channel's subscribers) may see it."""
        try:
            if not can(principal, self.permission):
                return False
        except ValueError:  # a permission this version does not know: nobody holds it
            return False
        if self.roles and principal.role is not Role.ADMIN and principal.role not in self.roles:
            return False
        if principal.role in BRANCH_SCOPED_ROLES:
            return self.branch_id in ("", principal.branch_id)
        return True


class Publisher(Protocol):
    async def publish(self, channel: str, message: str) -> Any: ...


async def publish(redis: Publisher, namespace: str, item: StreamItem) -> None:
    """Sends the item to whoever of its institution is listening now (nobody: it is dropped)."""
    await redis.publish(stream_channel(namespace, item.institution_id), item.to_json())
