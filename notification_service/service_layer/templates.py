"""The institution's message templates: its own texts where saved, Kopa's defaults elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from notification_service.domain import templates as t
from notification_service.domain.templates import Channel, Kind
from notification_service.service_layer.clock import now
from notification_service.service_layer.ports import SavedTemplate, Templates
from shared import context
from shared.errors import ValidationError
from shared.permissions import Permission as P
from shared.permissions import require


@dataclass(frozen=True)
class TemplateView:
    kind: Kind
    channel: Channel
    language: str
    subject: str
    body: str
    default: bool
    saved: SavedTemplate | None = None

    @property
    def variables(self) -> list[str]:
        return t.variables(self.kind)


def default_view(kind: Kind, channel: Channel, language: str) -> TemplateView:
    text = t.DEFAULTS[(kind, language)]
    subject = text.subject if channel is Channel.EMAIL else ""
    return TemplateView(kind, channel, language, subject, text.body, default=True)


def view_of(saved: SavedTemplate) -> TemplateView:
    return TemplateView(
        saved.kind, saved.channel, saved.language, saved.subject, saved.body, False, saved
    )


def checked_key(kind: str, channel: str, language: str) -> tuple[Kind, Channel, str]:
    problems = []
    if kind not in {k.value for k in Kind}:
        problems.append(("kind", f"must be one of {', '.join(k.value for k in Kind)}"))
    if channel not in {c.value for c in t.TEMPLATED}:
        problems.append(("channel", "must be sms or email"))
    if language not in t.LANGUAGES:
        problems.append(("language", f"must be one of {', '.join(t.LANGUAGES)}"))
    if problems:
        raise ValidationError.of_fields(problems)
    return Kind(kind), Channel(channel), language


class TemplateBook:
    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    async def text(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> TemplateView:
        """What a message of this kind says (used when sending: no permission check)."""
        saved = await self.templates.get(institution_id, kind, channel, language)
        return view_of(saved) if saved else default_view(kind, channel, language)

    async def list(self) -> list[TemplateView]:
        p = context.principal()
        require(p, P.NOTIFICATIONS_READ)
        assert p.institution_id is not None
        saved = {
            (s.kind, s.channel, s.language): s for s in await self.templates.all(p.institution_id)
        }
        views = []
        for kind in Kind:
            for channel in t.TEMPLATED:
                for language in t.LANGUAGES:
                    mine = saved.get((kind, channel, language))
                    views.append(view_of(mine) if mine else default_view(kind, channel, language))
        return views

    async def get(self, kind: str, channel: str, language: str) -> TemplateView:
        p = context.principal()
        require(p, P.NOTIFICATIONS_READ)
        assert p.institution_id is not None
        return await self.text(p.institution_id, *checked_key(kind, channel, language))

    async def put(
        self, kind: str, channel: str, language: str, subject: str, body: str
    ) -> TemplateView:
        p = context.principal()
        require(p, P.NOTIFICATIONS_MANAGE)
        assert p.institution_id is not None
        k, c, lang = checked_key(kind, channel, language)
        t.check(k, c, subject, body)
        saved = SavedTemplate(p.institution_id, k, c, lang, subject, body, now(), p.user_id)
        await self.templates.put(saved)
        return view_of(saved)

    async def delete(self, kind: str, channel: str, language: str) -> TemplateView:
        p = context.principal()
        require(p, P.NOTIFICATIONS_MANAGE)
        assert p.institution_id is not None
        k, c, lang = checked_key(kind, channel, language)
        await self.templates.delete(p.institution_id, k, c, lang)
        return default_view(k, c, lang)
