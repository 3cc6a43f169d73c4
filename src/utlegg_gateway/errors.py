"""The one exception tree of the gateway.

Every error the gateway raises on purpose derives from `GatewayError`. Each class has a
fixed, kebab-case `code` (stable: it is written into receipts, error reports and logs)
and an `exit_code` the CLI uses. Details (file, case, row, field, HTTP status …) are
attributes, not only text, so receipts and the journal can store them as data.

    GatewayError
    ├── UsageError                 bad arguments or an unreadable input file   (exit 2)
    │   ├── InputFileError         the file given on the command line cannot be read
    │   └── SandboxNotInstalledError  the `[sandbox]` extra is missing
    ├── ConfigError                the configuration is invalid                (exit 2)
    ├── MappingSpecError           a YAML mapping file is invalid (line/column) (exit 2)
    ├── SourceError                a source file cannot be parsed at all       (exit 2)
    │   └── UnsafeSourceError      DTD/entities/oversize: refused on purpose
    ├── CaseError                  one case cannot be built (transform failed) (exit 1)
    │   └── AttachmentError        a named attachment may not be read (name, link, size)
    ├── AuthError                  Maskinporten refused or could not be reached (exit 1)
    ├── ElanError                  an ELAN call failed                         (exit 1)
    │   ├── ElanTemporaryError     may succeed later: 429, 5xx, network, timeout
    │   │   └── ElanUnknownOutcomeError  sent, but no answer: resolve, never guess
    │   ├── ElanRejectedError      422: broken rules (kontrollutslag)
    │   └── ElanPermanentError     400/401/403/404/406: will not succeed as is
    ├── JournalError               the SQLite journal failed                    (exit 2)
    ├── InboxError / OutboxError   file-system trouble in the folders          (exit 1)
    ├── InternalError              an unforeseen error in one file or case: that one fails
    │   └── TransitionError        a state change the state machine forbids (a bug)
    └── LockHeldError              another run holds the lock                  (exit 3)

Errors from httpx, sqlite3, lxml and pydantic are translated into this tree in exactly
one place each: `elan/_http.py`, `journal/sqlite.py`, `mapping/sources/_xml.py` and
`model/__init__.py` / `mapping/spec.py`.

`ErrorEntry` is the other half: the one record of a *reported* error (a case's broken
rule, a failed transform, a refused attachment, a file that could not be read). Mapping,
prøving, the case worker and submission produce it, the journal stores it, and the
outbox writes it; nothing passes error dicts between modules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

__all__ = [
    "EXIT_CANNOT_RUN",
    "EXIT_CASE_ERRORS",
    "EXIT_LOCKED",
    "EXIT_MEANINGS",
    "EXIT_OK",
    "AttachmentError",
    "AuthError",
    "CaseError",
    "ConfigError",
    "ElanError",
    "ElanPermanentError",
    "ElanRejectedError",
    "ElanTemporaryError",
    "ElanUnknownOutcomeError",
    "ErrorEntry",
    "GatewayError",
    "InboxError",
    "InputFileError",
    "InstanceNameInUseError",
    "InternalError",
    "JournalError",
    "LeaseLostError",
    "LockHeldError",
    "MappingSpecError",
    "OutboxError",
    "Place",
    "SandboxNotInstalledError",
    "SourceError",
    "TransitionError",
    "UnsafeSourceError",
    "UsageError",
]

# Exit codes of every command (documented in README "Exit codes").
EXIT_OK = 0
EXIT_CASE_ERRORS = 1  # findings, rejected or failed cases: the run itself worked
EXIT_CANNOT_RUN = 2  # configuration, usage, unreadable input or mapping
EXIT_LOCKED = 3  # another run holds the lock; nothing was done
# What each code means to an operator (the end-of-run summary of `once` says it).
EXIT_MEANINGS = {
    EXIT_OK: "every case accepted (or already in)",
    EXIT_CASE_ERRORS: "some case rejected or failed, or a file unreadable",
    EXIT_CANNOT_RUN: "cannot run (configuration, credentials, mapping, usage, no inbox)",
    EXIT_LOCKED: "another run holds the lock; nothing was done",
}

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# The detail attributes every GatewayError may carry. Kept as a tuple so `details()`
# and the constructor cannot drift apart.
_DETAIL_FIELDS = (
    "file",
    "case",
    "row",
    "element",
    "column",
    "field",
    "rule",
    "value",
    "http_status",
    "kode",
    "korrelasjonsid",
    "hint",
)


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    code: ClassVar[str] = "gateway-error"
    exit_code: ClassVar[int] = EXIT_CASE_ERRORS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _KEBAB.match(cls.code):
            raise TypeError(f"{cls.__name__}.code must be kebab-case, got {cls.code!r}")

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        case: str | None = None,
        row: int | None = None,
        element: str | None = None,
        column: str | None = None,
        field: str | None = None,
        rule: str | None = None,
        value: str | None = None,
        http_status: int | None = None,
        kode: str | None = None,
        korrelasjonsid: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.case = case
        self.row = row
        self.element = element
        self.column = column
        self.field = field
        self.rule = rule
        self.value = value
        self.http_status = http_status
        self.kode = kode
        self.korrelasjonsid = korrelasjonsid
        self.hint = hint

    def details(self) -> dict[str, Any]:
        """The set detail attributes, for receipts, reports and structured logs."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for name in _DETAIL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def __str__(self) -> str:
        where = ", ".join(
            f"{name}={getattr(self, name)}"
            for name in ("file", "case", "row", "element", "column", "field", "rule")
            if getattr(self, name) is not None
        )
        text = f"[{self.code}] {self.message}"
        if where:
            text += f" ({where})"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(GatewayError):
    """The command was called wrongly."""

    code = "usage"
    exit_code = EXIT_CANNOT_RUN


class SandboxNotInstalledError(UsageError):
    """The sandbox's server dependencies (the `[sandbox]` extra) are not installed."""

    code = "sandbox-not-installed"


class InputFileError(UsageError):
    """A file named on the command line is missing, unreadable or not what it claims."""

    code = "input-file-unreadable"


class ConfigError(GatewayError):
    """The configuration is invalid; nothing can run until it is fixed."""

    code = "config-invalid"
    exit_code = EXIT_CANNOT_RUN


class MappingSpecError(GatewayError):
    """A YAML mapping file is invalid; `row`/`column` point into the YAML (the first problem).

    `problems` holds every problem found in the same run (`mapping.MappingProblem`s),
    errors and warnings, when the mapping was compiled far enough to find them.
    """

    code = "mapping-invalid"
    exit_code = EXIT_CANNOT_RUN
    problems: tuple[Any, ...] = ()


class SourceError(GatewayError):
    """A source export cannot be read at all (malformed XML, undecodable bytes …)."""

    code = "source-unreadable"
    exit_code = EXIT_CANNOT_RUN


class UnsafeSourceError(SourceError):
    """A source export was refused on purpose: DTD, entities, or over the size limit."""

    code = "source-unsafe"


class CaseError(GatewayError):
    """One case could not be built from its records; the others go on."""

    code = "case-invalid"


class AttachmentError(CaseError):
    """A case's attachment is refused: unsafe name, link, not a regular file, too large."""

    code = "attachment-refused"


class AuthError(GatewayError):
    """Maskinporten refused the grant or could not be reached."""

    code = "maskinporten-error"

    def __init__(self, message: str, *, mp_code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.mp_code = mp_code

    def details(self) -> dict[str, Any]:
        out = super().details()
        if self.mp_code:
            out["mp_code"] = self.mp_code
        return out


class ElanError(GatewayError):
    """An ELAN call failed; `kode`, `melding` (message) and `korrelasjonsid` are kept."""

    code = "elan-error"


class ElanTemporaryError(ElanError):
    """The call may succeed later (429, 5xx, network error, timeout)."""

    code = "elan-temporary"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        # Seconds the server asked us to wait (`Retry-After`), if it said.
        self.retry_after = retry_after


class ElanUnknownOutcomeError(ElanTemporaryError):
    """The request may have reached ELAN (timeout or dropped connection after sending)."""

    code = "elan-unknown-outcome"


class ElanRejectedError(ElanError):
    """ELAN answered 422: the begjæring broke one or more rules."""

    code = "elan-rejected"

    def __init__(self, message: str, *, rules: list[dict[str, Any]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.rules: list[dict[str, Any]] = rules or []

    def details(self) -> dict[str, Any]:
        out = super().details()
        out["rules"] = self.rules
        return out


class ElanPermanentError(ElanError):
    """The call will not succeed as it is (400/401/403/404/406)."""

    code = "elan-permanent"


class JournalError(GatewayError):
    """The journal (SQLite or PostgreSQL) failed: without it nothing may be sent."""

    code = "journal-error"
    exit_code = EXIT_CANNOT_RUN


class InboxError(GatewayError):
    """An inbox folder is missing, unmounted or unreadable."""

    code = "inbox-error"


class OutboxError(GatewayError):
    """An outbox file could not be written."""

    code = "outbox-error"


class InternalError(GatewayError):
    """Something unforeseen (a bug, a library error let through) while handling one file
    or case: that one is answered as failed with a short reason; the others go on."""

    code = "internal-error"


class TransitionError(InternalError):
    """A file or case was asked to move to a state its state machine forbids, or without
    what that move needs (a retry time, an intent's meldingsid): a bug in the step that
    asked. The journal refused before writing anything, so it is sound and only that
    file or case fails; a JournalError would stop the whole run."""

    code = "illegal-transition"


class LockHeldError(GatewayError):
    """Another run of the gateway holds the lock file."""

    code = "run-locked"
    exit_code = EXIT_LOCKED


class InstanceNameInUseError(LockHeldError):
    """A live cluster instance already has this `cluster.instance` name."""

    code = "instance-in-use"


class LeaseLostError(GatewayError):
    """This cluster instance's lease was taken over or could not be renewed: it stops."""

    code = "lease-lost"
    exit_code = EXIT_CANNOT_RUN


# -- reported errors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """Where in a source file something was found: CSV line numbers or an XML element."""

    file: str | None = None
    rows: tuple[int, ...] = ()
    element: str | None = None
    line: int | None = None

    @property
    def row(self) -> int | None:
        """The first physical line of the record (CSV), if known."""
        return self.rows[0] if self.rows else None

    def to_json(self) -> dict[str, Any]:
        """The journal's `source` object (`row` repeats the first of `rows`)."""
        out: dict[str, Any] = {}
        if self.rows:
            out["rows"] = list(self.rows)
            out["row"] = self.rows[0]
        for name in ("element", "line", "file"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Place:
        """Read a `source` object; older rows may carry only `row`."""
        rows = data.get("rows") or ([data["row"]] if data.get("row") is not None else [])
        return cls(
            file=data.get("file"),
            rows=tuple(int(r) for r in rows),
            element=data.get("element"),
            line=data.get("line"),
        )

    @classmethod
    def of(cls, source: _Located | None) -> Place | None:
        """A Place from a mapping SourceLocation (None stays None)."""
        if source is None:
            return None
        return cls(
            file=source.file,
            rows=tuple(source.rows or ()),
            element=source.element,
            line=source.line,
        )


class _Located(Protocol):
    """What mapping's SourceLocation offers (kept as a Protocol: errors.py imports nothing)."""

    @property
    def file(self) -> str: ...
    @property
    def rows(self) -> tuple[int, ...] | None: ...
    @property
    def element(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...


class _Issue(Protocol):
    """What mapping's CaseIssue offers."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def field(self) -> str | None: ...
    @property
    def column(self) -> str | None: ...
    @property
    def value(self) -> str | None: ...
    @property
    def source(self) -> _Located | None: ...


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One reported error of a case or a file.

    `code` is ours (kebab-case) or the server's kode; `rule` is the server's rule name
    where one applies and otherwise equals `code`. `location` is a JSON pointer into the
    begjæring; `place` is where in the source file; `value` is already masked.
    """

    code: str
    message: str
    rule: str = ""
    location: str | None = None
    field: str | None = None
    column: str | None = None
    value: str | None = None
    place: Place | None = None
    korrelasjonsid: str | None = None
    hint: str | None = None
    # The server's Norwegian text of a rule finding (ours or ELAN's), beside `message`.
    server_message: str | None = None

    def __post_init__(self) -> None:
        if not self.rule:
            object.__setattr__(self, "rule", self.code)  # frozen: set once, here

    @classmethod
    def from_error(cls, exc: GatewayError, place: Place | None = None) -> ErrorEntry:
        """The entry of a GatewayError: its detail attributes, the server's kode as rule."""
        if exc.row is not None or exc.element is not None:
            place = Place(
                file=exc.file if place is None else place.file,
                rows=(exc.row,) if exc.row is not None else (),
                element=exc.element,
            )
        return cls(
            code=exc.code,
            message=exc.message,
            rule=exc.rule or exc.kode or exc.code,
            field=exc.field,
            column=exc.column,
            value=exc.value,
            place=place,
            korrelasjonsid=exc.korrelasjonsid,
            hint=exc.hint,
        )

    @classmethod
    def from_issue(cls, issue: _Issue, place: Place | None = None) -> ErrorEntry:
        """The entry of a mapping/prøving CaseIssue; `place` (the case's) where it has none."""
        return cls(
            code=issue.code,
            message=issue.message,
            rule=getattr(issue, "rule", None) or issue.code,
            location=issue.location,
            field=issue.field,
            column=issue.column,
            value=issue.value,
            place=Place.of(issue.source) or place,
            server_message=getattr(issue, "server_message", None),
        )

    def to_json(self) -> dict[str, Any]:
        """The journal's JSON object (absent details left out)."""
        out: dict[str, Any] = {"code": self.code, "rule": self.rule, "message": self.message}
        for name in ("location", "field", "column", "value", "korrelasjonsid", "hint"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.server_message is not None:
            out["serverMessage"] = self.server_message
        source = self.place.to_json() if self.place is not None else {}
        if source:
            out["source"] = source
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorEntry:
        """Read a journal object; rows written before this type (flat `row`, `kode`) too."""
        source = data.get("source") or {
            k: data[k] for k in ("row", "rows", "element", "line", "file") if k in data
        }
        code = str(data.get("code") or data.get("kode") or data.get("rule") or "gateway-error")
        return cls(
            code=code,
            message=str(data.get("message", "")),
            rule=str(data.get("rule") or data.get("kode") or code),
            location=data.get("location"),
            field=data.get("field"),
            column=data.get("column"),
            value=data.get("value"),
            place=Place.from_json(source) if source else None,
            korrelasjonsid=data.get("korrelasjonsid"),
            hint=data.get("hint"),
            server_message=data.get("serverMessage"),
        )
