"""The Dialogporten emulator's letters: options, the rettebrev rule, the derived dialogs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "ELAN_SERVICE_RESOURCE",
    "AcceptedCase",
    "DialogportenOptions",
    "DialogportenState",
    "Letter",
    "iso",
    "loc",
    "minimal_pdf",
    "uid",
]

ELAN_SERVICE_RESOURCE = "urn:altinn:resource:ske-utleggsbegjaering"
ORG_PARTY_PREFIX = "urn:altinn:organization:identifier-no:"
# Fixed namespace: ids derive from case references, stable across restarts.
_NAMESPACE = uuid.UUID("8d4a3c1e-6a55-4a43-9f0e-3f0b1f2d7e11")

LetterKind = Literal["rettebrev", "nektebrev", "varsel", "vedtak"]


@dataclass(frozen=True)
class DialogportenOptions:
    """How the emulated authority writes letters."""

    # A case whose innsenderReferanse ends in one of these gets a rettebrev.
    rettebrev_suffixes: tuple[str, ...] = ("7",)
    # Sandbox-clock seconds from acceptance until the rettebrev is visible.
    rettebrev_after_seconds: float = 3600.0
    # The rules the rettebrev asks the innsender to correct.
    rettebrev_rules: tuple[str, ...] = ("MANGLER_OPPLYSNINGER_OM_SAKSOEKT",)
    dialog_per: Literal["case", "letter"] = "case"
    service_resource: str = ELAN_SERVICE_RESOURCE
    org: str = "skd"


@dataclass(frozen=True)
class AcceptedCase:
    """What the sandbox's submit tells the emulator about a case it accepted."""

    ekstern_saksreferanse: str
    innsender_referanse: str
    orgnr: str  # the innsender organisation: the dialog's party
    accepted_at: datetime
    saksnummer: str | None = None


@dataclass(frozen=True)
class Letter:
    """One letter (a transmission, or a dialog in `dialog_per="letter"`)."""

    id: str
    dialog_id: str
    kind: LetterKind
    party: str
    ekstern_saksreferanse: str | None
    title: str
    summary: str
    visible_at: datetime
    attachment_id: str
    attachment_url_id: str
    attachment_name: str
    pdf: bytes = field(repr=False)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def loc(text: str) -> dict[str, Any]:
    return {"mediaType": "text/plain", "value": [{"languageCode": "nb", "value": text}]}


def minimal_pdf(lines: Sequence[str]) -> bytes:
    """A small valid one-page PDF showing `lines` (deterministic bytes, no timestamps)."""

    def esc(text: str) -> str:
        latin = text.encode("latin-1", "replace").decode("latin-1")
        return latin.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 11 Tf", "50 790 Td", "14 TL"]
    ops += [f"({esc(line)}) '" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


class DialogportenState:
    """The letters the emulated authority has written; dialogs are views over them."""

    def __init__(
        self,
        options: DialogportenOptions | None = None,
        *,
        clock: Callable[[], datetime],
        cases: Callable[[], Iterable[AcceptedCase]] = tuple,
    ) -> None:
        self.options = options or DialogportenOptions()
        self._clock = clock
        # The ELAN sandbox's accepted cases: letters are derived from them on demand, so
        # a sandbox restarted on its state file shows the same dialogs again.
        self._cases = cases
        self._lock = threading.RLock()
        self._letters: dict[str, Letter] = {}
        # Letters written through the admin API (the others live only while their case does).
        self._manual: set[str] = set()
        # dialog id -> how many times the full dialog was fetched (the seen log's cause).
        self.seen_log: dict[str, int] = {}
        # endpoint name (search, dialog, transmissions, download) -> scripted actions.
        self.faults: dict[str, list[str]] = {}

    def next_fault(self, endpoint: str) -> str:
        """The next scripted action for `endpoint` ("ok" when none is left)."""
        with self._lock:
            script = self.faults.get(endpoint)
            return script.pop(0) if script else "ok"

    def _derive(self) -> list[Letter]:
        live = set(self._manual)
        for case in self._cases():
            letter = self.case_accepted(case)
            if letter is not None:
                live.add(letter.id)
        return [x for x in self._letters.values() if x.id in live]

    # -- feeding -----------------------------------------------------------------------

    def case_accepted(self, case: AcceptedCase) -> Letter | None:
        """The rettebrev rule: the letter this accepted case gets, if the rule picks it."""
        if not case.innsender_referanse.endswith(self.options.rettebrev_suffixes):
            return None
        known = self._letters.get(
            uid("transmission", f"rettebrev/{case.ekstern_saksreferanse}/{case.orgnr}")
        )
        if known is not None:
            return known  # skip building its PDF again
        rules = self.options.rettebrev_rules
        return self._add(
            kind="rettebrev",
            orgnr=case.orgnr,
            ekstern_saksreferanse=case.ekstern_saksreferanse,
            visible_at=case.accepted_at + timedelta(seconds=self.options.rettebrev_after_seconds),
            title=f"Rettebrev: utleggsbegjæring {case.innsender_referanse} må rettes",
            summary=(
                f"Begjæringen {case.innsender_referanse} (sak {case.ekstern_saksreferanse}) "
                f"må rettes innen 14 dager. Vilkår som må rettes: {', '.join(rules)}."
            ),
            body_lines=[f"Vilkår: {rule}" for rule in rules],
        )

    def add_letter(self, **kw: Any) -> Letter:
        """Write one letter by hand (admin API), e.g. a varsel or a backdated letter."""
        letter = self._add(**kw)
        with self._lock:
            self._manual.add(letter.id)
        return letter

    def _add(
        self,
        *,
        kind: LetterKind,
        orgnr: str,
        ekstern_saksreferanse: str | None,
        visible_at: datetime,
        title: str,
        summary: str,
        body_lines: Sequence[str] = (),
    ) -> Letter:
        """Write one letter (idempotent: the same kind for the same case is one letter)."""
        key = f"{kind}/{ekstern_saksreferanse or title}/{orgnr}"
        letter_id = uid("transmission", key)
        if self.options.dialog_per == "case" and ekstern_saksreferanse:
            dialog_id = uid("dialog", ekstern_saksreferanse, orgnr)
        else:
            dialog_id = uid("dialog", key)
        pdf = minimal_pdf(["Skatteetaten - alminnelig namsmann", title, summary, *body_lines])
        letter = Letter(
            id=letter_id,
            dialog_id=dialog_id,
            kind=kind,
            party=ORG_PARTY_PREFIX + orgnr,
            ekstern_saksreferanse=ekstern_saksreferanse,
            title=title,
            summary=summary,
            visible_at=visible_at.astimezone(UTC),
            attachment_id=uid("attachment", key),
            attachment_url_id=uid("attachment-url", key),
            attachment_name=f"{kind}.pdf",
            pdf=pdf,
        )
        with self._lock:
            self._letters.setdefault(letter_id, letter)
            return self._letters[letter_id]

    def reset_derived(self) -> None:
        """Forget the derived letters (options changed: they are derived again)."""
        with self._lock:
            self._letters = {k: v for k, v in self._letters.items() if k in self._manual}

    def reset(self) -> None:
        """Forget every letter, the seen log and the faults (the sandbox's reset)."""
        with self._lock:
            self._letters.clear()
            self._manual.clear()
            self.seen_log.clear()
            self.faults.clear()

    # -- views -------------------------------------------------------------------------

    def visible_letters(self) -> list[Letter]:
        """Letters visible now on the sandbox clock."""
        now = self._clock()
        with self._lock:
            return [x for x in self._derive() if x.visible_at <= now]

    def all_letters(self) -> list[Letter]:
        """Every letter, visible or scheduled (admin view)."""
        with self._lock:
            return self._derive()

    def dialogs(self) -> dict[str, list[Letter]]:
        """Visible dialogs: id -> its letters in order of appearance."""
        out: dict[str, list[Letter]] = {}
        for letter in sorted(self.visible_letters(), key=lambda x: (x.visible_at, x.id)):
            out.setdefault(letter.dialog_id, []).append(letter)
        return out

    def letter_by_url_id(self, url_id: str) -> Letter | None:
        """The letter whose attachment URL has this id."""
        for letter in self.visible_letters():
            if letter.attachment_url_id == url_id:
                return letter
        return None
