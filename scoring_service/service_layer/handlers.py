"""scoring_service use cases: each checks the caller's permission and scope, validates through
the domain, then records the change as ONE insert that carries its outgoing event (see
`adapters/repository.py` for why inserts, and for the collections).

Semantics (the reference for the RPCs):

- **Versions.** Every CreateScorecard stores one *version* (its id is what the API calls the
  scorecard id). Without `scorecard_key` it starts a new scorecard (a new key, version 1);
  with the key of one of the institution's scorecards it adds the next draft version
  (numbers are unique per key, enforced by an index). A version's content never changes.
  A request id makes the call idempotent: the same id with the same content returns the
  first version; with different content it is ALREADY_EXISTS (409) REQUEST_ID_REUSED.
- **Cut-offs** come as `[{band, min_score}]` for AA, A, B and C (D may be sent with 0: it is
  every score below C). When none are sent the defaults `DEFAULT_CUTOFFS` apply:
  AA >= 800, A >= 650, B >= 550, C >= 450, D below 450 (so with the default base score 500
  an applicant no rule speaks for lands in C).
- **Life cycle.** draft -> published -> retired, each step at most once per version.
  Publishing a version retires the previously published version of the same scorecard.
- **The version used for scoring.** An institution may have several scorecards, each with
  at most one published version; scoring uses exactly one: **the most recently published
  version, across all of the institution's scorecards, that is still published**. The
  per-institution `active_scorecard` register names it and changes only by compare-and-set:
  publishing moves it to the new version (its sequence number orders publications);
  retiring the version it names moves it to the most recently published version still
  published, or to none (then Score is FAILED_PRECONDITION NO_PUBLISHED_VERSION). The
  register is the commit point of a publication: if a process dies right after moving it,
  the next reader records the publication (read repair), so the state always converges.
- **Score** evaluates the applicant with that version and stores a score record (subject,
  version id, number and fingerprint, the applicant JSON exactly as received, score, band,
  contributions); versions are immutable, so any decision can be reproduced later
  (`reproduce_score`). Re-scoring a subject adds a record; the latest one counts.
- **What-if** replays the latest applicant inputs of every subject the institution scored
  through a version and through the version in force, with loan outcomes where known.
- **Governance** reports, for one version, the subjects scored with it (the latest score
  with that version per subject), by band, and for matured loans the default rate (see
  `service_layer/outcomes.py` for the definitions).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from pymongo.errors import DuplicateKeyError

from kopa.scoring.v1 import events_pb2
from scoring_service.adapters.repository import (
    SCORECARDS,
    TRANSITIONS,
    Repository,
    transition_id,
)
from scoring_service.domain.errors import (
    CUTOFFS_INVALID,
    ILLEGAL_TRANSITION,
    NO_PUBLISHED_VERSION,
    SCORECARD_NOT_FOUND,
    WHATIF_INVALID,
    ScoringIllegalState,
    ScoringInvalid,
    ScoringNotFound,
)
from scoring_service.domain.scorecard import (
    BANDS_BEST_FIRST,
    Band,
    Scorecard,
    ScorecardVersion,
    ScoreResult,
    VersionStatus,
    evaluate,
)
from scoring_service.domain.whatif import MAX_APPLICATIONS, PastApplication, WhatIfReport, what_if
from scoring_service.entrypoints.mapping import scorecard_to_proto
from scoring_service.service_layer.outcomes import (
    GovernanceReport,
    band_outcome,
    fold,
    is_default,
    is_matured,
    outcome_of,
)
from shared import context
from shared.errors import Aborted, Conflict, PermissionDenied, ValidationError
from shared.events import event_meta, outbox_fields
from shared.ids import new_id
from shared.logging import get_logger
from shared.lru import Lru
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

DEFAULT_CUTOFFS: Final[Mapping[str, int]] = {"AA": 800, "A": 650, "B": 550, "C": 450}
"""Cut-offs of a version created without any: AA >= 800, A >= 650, B >= 550, C >= 450."""
MAX_APPLICANT_JSON: Final = 64 * 1024
MAX_SUBJECT_ID: Final = 200
MAX_REQUEST_ID: Final = 200
_CAS_ATTEMPTS: Final = 50
_CREATE_ATTEMPTS: Final = 10
_VERSION_CACHE_SIZE: Final = 256
SNAPSHOTS_KEPT: Final = 10_000

DRAFT, PUBLISHED, RETIRED = (s.value for s in VersionStatus)
REVISION: Final[Mapping[str, int]] = {DRAFT: 1, PUBLISHED: 2, RETIRED: 3}
"""The events' aggregate version: one step per life-cycle state."""


def _now() -> datetime:
    return datetime.now(UTC)


# --- request parsing (pure) -------------------------------------------------------------------


def cutoffs_from_request(
    items: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, Any], list[tuple[str, str]], dict[str, int]]:
    """`[{band, min_score}]` as the domain's `{band: min}`, the problems only the list form can
    have (unknown or repeated bands), and each band's index in the list (to name the field)."""
    if not items:
        return dict(DEFAULT_CUTOFFS), [], {}
    mapping: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    where: dict[str, int] = {}
    for index, item in enumerate(items):
        band = str(item.get("band", "")).strip().upper()
        minimum = item.get("min_score")
        if band == "D":
            if minimum not in (0, None):
                problems.append(
                    (
                        f"cutoffs[{index}].min_score",
                        "D has no minimum: it is every score below C's minimum "
                        "(send 0 or leave D out)",
                    )
                )
            continue
        if band not in DEFAULT_CUTOFFS:
            problems.append((f"cutoffs[{index}].band", "unknown band; bands are AA, A, B, C, D"))
        elif band in where:
            problems.append((f"cutoffs[{index}].band", f"band {band} is given twice"))
        else:
            mapping[band] = minimum
            where[band] = index
    return mapping, problems, where


def _cutoff_field(field: str, where: Mapping[str, int]) -> str:
    """The domain names `cutoffs.AA`; the request is a list, so name its item."""
    if not field.startswith("cutoffs."):
        return field
    band = field.removeprefix("cutoffs.")
    return f"cutoffs[{where[band]}].min_score" if band in where else "cutoffs"


def parse_applicant(text: str) -> dict[str, Any]:
    """The applicant JSON object; numbers as exact `Decimal`."""
    if not text.strip():
        raise ValidationError.of(
            "applicant_json", 'is required: a JSON object {"borrower": {...}, "loan": {...}, ...}'
        )
    if len(text.encode("utf-8")) > MAX_APPLICANT_JSON:
        raise ValidationError.of("applicant_json", f"is larger than {MAX_APPLICANT_JSON} bytes")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=no_constants)
    except (ValueError, RecursionError) as error:
        raise ValidationError.of("applicant_json", f"is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValidationError.of("applicant_json", "must be a JSON object")
    return value


def approval_band(text: str) -> Band:
    value = (text or "C").strip().upper()
    try:
        return Band(value)
    except ValueError:
        raise ScoringInvalid(
            WHATIF_INVALID, [("approval_band", "the lowest band approved: AA, A, B, C or D")]
        ) from None


def view(doc: Mapping[str, Any], transitions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A version document with its derived state: `state`, `revision`, `publish_seq`,
    `publish_time`, `retire_time` (from its transitions)."""
    out = dict(doc)
    out.update(state=DRAFT, publish_seq=None, publish_time=None, retire_time=None)
    by_state = {t["state"]: t for t in transitions if t["version_id"] == doc["_id"]}
    published = by_state.get(PUBLISHED)
    if published is not None:
        out.update(state=PUBLISHED, publish_seq=published["seq"], publish_time=published["time"])
    retired = by_state.get(RETIRED)
    if retired is not None:
        out.update(state=RETIRED, retire_time=retired["time"])
        if published is None:  # cannot happen through the API; keep the order anyway
            out.update(publish_seq=retired.get("seq"))
    out["revision"] = REVISION[out["state"]]
    out["version"] = {**doc["version"], "status": out["state"]}
    return out


class ScoringHandlers:
    def __init__(self, repo: Repository, notify: Callable[[str, Any], None]) -> None:
        self.repo = repo
        self._notify = notify  # OutboxRelay.notify
        self._versions: Lru[tuple[str, str], ScorecardVersion] = Lru(_VERSION_CACHE_SIZE)
        # The newest snapshot this process recorded of each loan (at most SNAPSHOTS_KEPT):
        # (loan version, status, days past due). See `record_loan_outcome`.
        self._recorded: Lru[str, tuple[int, str, int]] = Lru(SNAPSHOTS_KEPT)

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _actor(permission: Permission) -> Principal:
        p = context.principal()
        require(p, permission)
        if p.institution_id is None:
            raise PermissionDenied("scorecards belong to an institution; act as its staff")
        return p

    async def _view(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return view(doc, await self.repo.transitions_of([doc["_id"]]))

    async def _views(self, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        transitions = await self.repo.transitions_of(d["_id"] for d in docs)
        return [view(d, transitions) for d in docs]

    async def _version(self, p: Principal, version_id: str) -> dict[str, Any]:
        """The version (with its state) if it exists in the caller's institution."""
        doc = await self.repo.get_version(version_id) if version_id else None
        if doc is None or not p.can_access(doc["institution_id"]):
            raise ScoringNotFound(
                SCORECARD_NOT_FOUND, [("scorecard_id", f"no scorecard {version_id!r}")]
            )
        return await self._view(doc)

    def _evaluable(self, doc: Mapping[str, Any]) -> ScorecardVersion:
        """The stored version, re-validated and fingerprint-checked once, then cached (its
        content never changes; compiled forms are cached by the domain)."""
        key = (str(doc["_id"]), str(doc["fingerprint"]))
        version = self._versions.get(key)
        if version is None:
            version = ScorecardVersion.from_dict({**doc["version"], "status": DRAFT})
            self._versions.put(key, version)
        return version

    def _aggregate(self, version: Mapping[str, Any]) -> Scorecard:
        """The scorecard aggregate holding this one version in its current state."""
        domain = replace(self._evaluable(version), status=VersionStatus(version["state"]))
        return Scorecard(
            version["scorecard_key"], version["institution_id"], version["name"], [domain]
        )

    @staticmethod
    def _event(kind: str, version: Mapping[str, Any]) -> events_pb2.ScorecardEvent:
        return events_pb2.ScorecardEvent(
            meta=event_meta(
                kind,
                institution_id=version["institution_id"],
                aggregate_id=version["_id"],
                aggregate_version=version["revision"],
            ),
            scorecard=scorecard_to_proto(version),
        )

    # --- creating versions --------------------------------------------------------------

    async def create_scorecard(self, data: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        p = self._actor(Permission.SCORECARDS_MANAGE)
        institution_id = str(p.institution_id)
        request_id = request_id.strip()
        if len(request_id) > MAX_REQUEST_ID:
            raise ValidationError.of("request_id", f"at most {MAX_REQUEST_ID} characters")
        name = str(data.get("name") or "").strip()
        key = str(data.get("scorecard_key") or "").strip()
        cutoffs, cutoff_problems, where = cutoffs_from_request(data.get("cutoffs") or [])
        new_key = key or new_id("sc")
        for _ in range(_CREATE_ATTEMPTS):
            existing: list[dict[str, Any]] = []
            if key:
                existing = await self.repo.versions_of(key)
                if not existing or existing[0]["institution_id"] != institution_id:
                    raise ScoringNotFound(
                        SCORECARD_NOT_FOUND,
                        [("scorecard_key", f"no scorecard {key!r} in your institution")],
                    )
            card = Scorecard(new_key, institution_id, name, [self._evaluable(d) for d in existing])
            try:
                draft = card.create_draft(
                    base_score=data.get("base_score"), rules=data.get("rules"), cutoffs=cutoffs
                )
            except ScoringInvalid as error:
                renamed = [(_cutoff_field(f, where), m) for f, m in error.details]
                if renamed == error.details and not cutoff_problems:
                    raise
                raise ScoringInvalid(error.reason, renamed + cutoff_problems) from None
            if cutoff_problems:
                raise ScoringInvalid(CUTOFFS_INVALID, cutoff_problems)
            if request_id:
                prior = await self.repo.by_request_key(institution_id, request_id)
                if prior is not None:
                    return await self._replay(prior, draft, name, key)
            doc = self._new_version_doc(p, card, draft, request_id)
            try:
                await self.repo.insert_version(doc)
            except DuplicateKeyError:
                if request_id:
                    prior = await self.repo.by_request_key(institution_id, request_id)
                    if prior is not None:
                        return await self._replay(prior, draft, name, key)
                continue  # another draft took this number: take the next one
            self._notify(SCORECARDS, doc["_id"])
            log.info(
                "scorecard_created",
                scorecard_id=doc["_id"],
                scorecard_key=doc["scorecard_key"],
                number=doc["number"],
            )
            doc.pop("outbox", None)
            doc.pop("outbox_count", None)
            return view(doc, ())
        raise Aborted("drafts of this scorecard are being created concurrently; retry")

    def _new_version_doc(
        self, p: Principal, card: Scorecard, draft: ScorecardVersion, request_id: str
    ) -> dict[str, Any]:
        version_id = new_id("scv")
        doc: dict[str, Any] = {
            "_id": version_id,
            "scorecard_key": card.id,
            "institution_id": card.institution_id,
            "name": card.name,
            "number": draft.number,
            "version": draft.to_dict(),
            "fingerprint": draft.fingerprint,
            "request_key": request_id or version_id,
            "create_time": _now(),
            "created_by": p.user_id,
        }
        doc.update(outbox_fields([self._event("scorecard.created", view(doc, ()))]))
        return doc

    async def _replay(
        self, prior: dict[str, Any], draft: ScorecardVersion, name: str, key: str
    ) -> dict[str, Any]:
        same = (
            prior["fingerprint"] == draft.fingerprint
            and prior["name"] == name
            and (not key or prior["scorecard_key"] == key)
        )
        if not same:
            raise Conflict(
                "this request id was already used to create a different scorecard version",
                reason="REQUEST_ID_REUSED",
                field_errors=[("request_id", f"already used for {prior['_id']}")],
                metadata={"existing_scorecard_id": prior["_id"]},
            )
        return await self._view(prior)

    # --- reading ------------------------------------------------------------------------

    async def get_scorecard(self, version_id: str) -> dict[str, Any]:
        p = self._actor(Permission.SCORECARDS_READ)
        return await self._version(p, version_id)

    async def list_scorecards(self, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        p = self._actor(Permission.SCORECARDS_READ)
        docs, next_token = await self.repo.page_versions(str(p.institution_id), size, token)
        return await self._views(docs), next_token

    # --- publishing and retiring --------------------------------------------------------

    async def publish_scorecard(self, version_id: str) -> dict[str, Any]:
        p = self._actor(Permission.SCORECARDS_MANAGE)
        version = await self._version(p, version_id)
        # draft only, at least one rule, compiles: else ILLEGAL_TRANSITION / SCORECARD_EMPTY
        self._aggregate(version).publish(version["number"])
        seq = await self._point_to(version)
        published = await self._record_publication(version, seq)
        log.info("scorecard_published", scorecard_id=version_id, seq=seq)
        return published

    async def retire_scorecard(self, version_id: str) -> dict[str, Any]:
        p = self._actor(Permission.SCORECARDS_MANAGE)
        version = await self._version(p, version_id)
        self._aggregate(version).retire(version["number"])  # published only
        if not await self._retire(version):  # retired by a concurrent call a moment ago
            raise ScoringIllegalState(
                ILLEGAL_TRANSITION,
                [
                    (
                        "status",
                        f"cannot retire version {version['number']}: it is retired; "
                        "only the published version can be retired",
                    )
                ],
                metadata={"state": RETIRED},
            )
        await self._repoint(version["institution_id"], version_id)
        log.info("scorecard_retired", scorecard_id=version_id)
        return await self._view(version)

    async def _point_to(self, version: Mapping[str, Any]) -> int:
        """Compare-and-set the institution's active version to `version`: the commit point of
        a publication. Returns the publication's sequence number."""
        institution_id = version["institution_id"]
        for _ in range(_CAS_ATTEMPTS):
            latest = await self.repo.latest_pointer(institution_id)
            if latest is not None and latest["version_id"] == version["_id"]:
                return int(latest["seq"])
            seq = int(latest["seq"]) + 1 if latest is not None else 1
            if await self.repo.insert_pointer(institution_id, seq, _pointer(version)):
                return seq
        raise Aborted("scorecards of this institution are being changed concurrently; retry")

    async def _record_publication(self, version: Mapping[str, Any], seq: int) -> dict[str, Any]:
        """Records draft -> published (once, whoever gets there first: the publisher or a
        read repair), then retires the versions of the same scorecard published before."""
        now = _now()
        after = {
            **version,
            "state": PUBLISHED,
            "revision": REVISION[PUBLISHED],
            "version": {**version["version"], "status": PUBLISHED},
            "publish_seq": seq,
            "publish_time": now,
        }
        tid = transition_id(version["_id"], PUBLISHED)
        recorded = await self.repo.insert_transition(
            {
                "_id": tid,
                "version_id": version["_id"],
                "scorecard_key": version["scorecard_key"],
                "institution_id": version["institution_id"],
                "state": PUBLISHED,
                "seq": seq,
                "time": now,
                "actor": _actor_id(),
                **outbox_fields([self._event("scorecard.published", after)]),
            }
        )
        if recorded:
            self._notify(TRANSITIONS, tid)
        return await self._settle_key(version)

    async def _settle_key(self, version: Mapping[str, Any]) -> dict[str, Any]:
        """Leaves only the most recently published version of the scorecard published.

        Every publication does this after recording its own, so of two racing publications
        of one scorecard, whichever checks last sees both and retires the older one.
        """
        key = version["scorecard_key"]
        docs = await self.repo.versions_of(key)
        transitions = await self.repo.transitions_of_key(key)
        views = [view(d, transitions) for d in docs]
        mine = next(v for v in views if v["_id"] == version["_id"])
        retired: list[str] = []
        if mine["state"] == PUBLISHED:
            for other in views:
                if other["_id"] == mine["_id"] or other["state"] != PUBLISHED:
                    continue
                if int(other["publish_seq"]) < int(mine["publish_seq"]):
                    await self._retire(other)
                    retired.append(other["_id"])
                else:  # a newer publication of this scorecard won: this one is superseded
                    await self._retire(mine)
                    break
        mine = await self._view(mine)
        if mine["state"] != PUBLISHED:
            retired.append(mine["_id"])
        # The register may name one of them (a publication clicked twice can move it back
        # to a version that an earlier click already published): move it on.
        for version_id in retired:
            await self._repoint(mine["institution_id"], version_id)
        return mine

    async def _retire(self, version: Mapping[str, Any]) -> bool:
        """Records published -> retired with its event; False if it already was."""
        now = _now()
        after = {
            **version,
            "state": RETIRED,
            "revision": REVISION[RETIRED],
            "version": {**version["version"], "status": RETIRED},
            "retire_time": now,
        }
        tid = transition_id(version["_id"], RETIRED)
        recorded = await self.repo.insert_transition(
            {
                "_id": tid,
                "version_id": version["_id"],
                "scorecard_key": version["scorecard_key"],
                "institution_id": version["institution_id"],
                "state": RETIRED,
                "seq": version.get("publish_seq"),
                "time": now,
                "actor": _actor_id(),
                **outbox_fields([self._event("scorecard.retired", after)]),
            }
        )
        if recorded:
            self._notify(TRANSITIONS, tid)
        return recorded

    async def _latest_published(self, institution_id: str) -> dict[str, Any] | None:
        """The institution's most recently published version that is still published."""
        published = await self.repo.transitions_of_institution(institution_id, PUBLISHED)
        retired = {
            t["version_id"]
            for t in await self.repo.transitions_of_institution(institution_id, RETIRED)
        }
        live = [t for t in published if t["version_id"] not in retired]
        if not live:
            return None
        newest = max(live, key=lambda t: int(t["seq"]))
        return await self.repo.get_version(newest["version_id"])

    async def _repoint(self, institution_id: str, retired_id: str) -> None:
        """If the active version is `retired_id`, move it to the most recently published
        version still published (or to none)."""
        for _ in range(_CAS_ATTEMPTS):
            latest = await self.repo.latest_pointer(institution_id)
            if latest is None or latest["version_id"] != retired_id:
                return
            best = await self._latest_published(institution_id)
            if await self.repo.insert_pointer(
                institution_id, int(latest["seq"]) + 1, _pointer(best)
            ):
                return
        raise Aborted("scorecards of this institution are being changed concurrently; retry")

    async def active_version(self, institution_id: str) -> dict[str, Any] | None:
        """The version the institution scores with (see the module documentation), finishing
        a publication or retirement that a crashed process left half done."""
        for _ in range(_CAS_ATTEMPTS):
            latest = await self.repo.latest_pointer(institution_id)
            if latest is None or not latest["version_id"]:
                return None
            doc = await self.repo.get_version(latest["version_id"])
            if doc is None:
                return None
            version = await self._view(doc)
            if version["state"] == PUBLISHED:
                return version
            if version["state"] == DRAFT:
                # The register names it, so its publication committed: record it.
                version = await self._record_publication(version, int(latest["seq"]))
                if version["state"] == PUBLISHED:
                    return version
                continue
            await self._repoint(institution_id, version["_id"])
        raise Aborted("scorecards of this institution are being changed concurrently; retry")

    # --- scoring ------------------------------------------------------------------------

    async def score(self, subject_id: str, applicant_json: str) -> dict[str, Any]:
        p = self._actor(Permission.LOANS_SCORE)
        institution_id = str(p.institution_id)
        subject_id = subject_id.strip()
        if not subject_id or len(subject_id) > MAX_SUBJECT_ID:
            raise ValidationError.of(
                "subject_id", f"is required (the loan id, at most {MAX_SUBJECT_ID} characters)"
            )
        applicant = parse_applicant(applicant_json)
        version = await self.active_version(institution_id)
        if version is None:
            raise ScoringIllegalState(
                NO_PUBLISHED_VERSION,
                [("scorecard", "the institution has no published scorecard; publish one first")],
            )
        result = evaluate(self._evaluable(version), applicant)
        record = {
            "_id": new_id("scr"),
            "subject_id": subject_id,
            "institution_id": institution_id,
            "scorecard_id": version["_id"],
            "scorecard_key": version["scorecard_key"],
            "scorecard_version": version["number"],
            "fingerprint": version["fingerprint"],
            "applicant_json": applicant_json,
            "score": result.score,
            "band": result.band.value,
            "base_score": result.base_score,
            "total": result.total,
            "contributions": [c._asdict() for c in result.contributions],
            "create_time": _now(),
            "scored_by": p.user_id,
            "request_id": context.current().request_id,
        }
        await self.repo.insert_score(record)
        log.info(
            "applicant_scored",
            subject_id=subject_id,
            scorecard_id=version["_id"],
            score=result.score,
            band=result.band.value,
        )
        return record

    async def reproduce_score(self, record: Mapping[str, Any]) -> ScoreResult:
        """Re-evaluates a stored score record with the version it names (whatever that
        version's state now); the fingerprint check guarantees the same content."""
        doc = await self.repo.get_version(record["scorecard_id"])
        if doc is None or doc["fingerprint"] != record["fingerprint"]:
            raise ScoringNotFound(
                SCORECARD_NOT_FOUND, [("scorecard_id", "the version scored with is gone")]
            )
        return evaluate(self._evaluable(doc), parse_applicant(record["applicant_json"]))

    # --- what-if and governance ---------------------------------------------------------

    async def what_if(self, version_id: str, band_text: str) -> WhatIfReport:
        p = self._actor(Permission.SCORECARDS_MANAGE)
        version = await self._version(p, version_id)
        approve_at = approval_band(band_text)
        active = await self.active_version(version["institution_id"])
        if active is not None and active["_id"] == version["_id"]:
            raise ScoringInvalid(
                WHATIF_INVALID,
                [
                    (
                        "scorecard_id",
                        "this is the published version; run the what-if on a draft to "
                        "compare it with the published one",
                    )
                ],
            )
        proposed = self._evaluable(version)
        current = self._evaluable(active) if active is not None else None
        applications = await self.past_applications(version["institution_id"])
        return await asyncio.to_thread(what_if, proposed, current, applications, approve_at)

    async def past_applications(self, institution_id: str) -> list[PastApplication]:
        """The latest applicant inputs of each subject the institution scored (at most
        `MAX_APPLICATIONS`, most recent first), with the loan's outcome where known."""
        records = await self.repo.scores_of_institution(
            institution_id, {"subject_id": 1, "applicant_json": 1}
        )
        latest: dict[str, str] = {}
        for record in reversed(records):
            latest.setdefault(record["subject_id"], record["applicant_json"])
            if len(latest) >= MAX_APPLICATIONS:
                break
        outcomes = await self.outcomes(institution_id, latest)
        return [
            PastApplication(
                applicant=parse_applicant(text), outcome=outcome_of(outcomes.get(subject))
            )
            for subject, text in latest.items()
        ]

    async def outcomes(
        self, institution_id: str, subjects: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """The outcome of each subject (loan) of the institution that has one."""
        found: dict[str, dict[str, Any]] = {}
        for loan_id, snapshots in (await self.repo.loan_snapshots(subjects)).items():
            outcome = fold(snapshots)
            if outcome is not None and outcome["institution_id"] == institution_id:
                found[loan_id] = outcome
        return found

    async def governance_report(self, version_id: str) -> GovernanceReport:
        p = self._actor(Permission.SCORECARDS_READ)
        version = await self._version(p, version_id)
        records = await self.repo.scores_of_version(version["_id"], {"subject_id": 1, "band": 1})
        band_of: dict[str, str] = {}
        for record in records:  # oldest first: the latest score with this version wins
            band_of[record["subject_id"]] = record["band"]
        outcomes = await self.outcomes(version["institution_id"], band_of)
        counts = {band.value: [0, 0, 0] for band in BANDS_BEST_FIRST}
        for subject, band in band_of.items():
            row = counts[band]
            row[0] += 1
            outcome = outcomes.get(subject)
            if outcome is not None and is_matured(outcome):
                row[1] += 1
                row[2] += is_default(outcome)
        return GovernanceReport(
            scorecard_id=version["_id"],
            applications_scored=len(band_of),
            bands=tuple(band_outcome(band, *row) for band, row in counts.items()),
        )

    # --- loan outcomes (from loan events) -----------------------------------------------

    async def record_loan_outcome(
        self,
        *,
        loan_id: str,
        institution_id: str,
        status: str,
        days_past_due: int,
        loan_version: int,
        occurred_at: datetime,
    ) -> bool:
        """Records one loan snapshot. Idempotent: a replayed snapshot (same loan version) is
        ignored, and the outcome is folded from all snapshots whatever their order. A snapshot
        newer than the last this process recorded of the loan, with the same status and days
        past due, is not recorded: the fold would give the same outcome (most repayments
        change neither)."""
        if not loan_id:
            return False
        dpd, version = max(0, days_past_due), max(0, loan_version)
        last = self._recorded.get(loan_id)
        if last is not None and last[0] < version and last[1:] == (status, dpd):
            return False
        recorded = await self.repo.insert_loan_snapshot(
            {
                "loan_id": loan_id,
                "institution_id": institution_id,
                "status": status,
                "days_past_due": dpd,
                "loan_version": version,
                "time": occurred_at,
            }
        )
        if last is None or last[0] < version:
            self._recorded.put(loan_id, (version, status, dpd))
        log.debug("loan_snapshot_recorded", loan_id=loan_id, status=status, new=recorded)
        return recorded


def _pointer(version: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "version_id": version["_id"] if version else "",
        "scorecard_key": version["scorecard_key"] if version else "",
        "number": version["number"] if version else 0,
        "time": _now(),
        "actor": _actor_id(),
    }


def _actor_id() -> str:
    principal = context.current().principal
    return principal.user_id if principal else ""
