"""What mapping a source file yields: one `CaseResult` per case, with located issues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["AttachmentRef", "CaseIssue", "CaseResult", "MappingProblem", "SourceLocation"]


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """One problem of a mapping file, at its YAML line and column (1-based)."""

    severity: Literal["error", "warning"]
    message: str
    file: str
    line: int | None = None
    column: int | None = None

    def describe(self) -> str:
        """`path:12:7: error: message`, as compilers write it (editors jump to it)."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.severity}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """For `mapping check --json`."""
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where in the source a case or a value came from.

    CSV: `rows` are the 1-based physical line numbers where each record starts (a quoted
    line break makes a record span several lines). XML: `element` is a path like
    `/Utleggsbatch/Sak[2]/Grunnlag[1]` and `line` the element's line in the file.
    """

    file: str
    rows: tuple[int, ...] | None = None
    element: str | None = None
    line: int | None = None

    def describe(self) -> str:
        """Short human text: `line 4` / `lines 2, 3` / `/Utleggsbatch/Sak[2] (line 9)`."""
        if self.rows:
            word = "line" if len(self.rows) == 1 else "lines"
            return f"{word} {', '.join(str(r) for r in self.rows)}"
        if self.element:
            return f"{self.element} (line {self.line})" if self.line else self.element
        return self.file


@dataclass(frozen=True, slots=True)
class CaseIssue:
    """One problem of one case: a failed transform, a missing value or a broken rule."""

    code: str
    message: str
    location: str | None = None  # JSON pointer into the target begjæring
    field: str | None = None  # the target field (last name in `location`)
    source: SourceLocation | None = None
    column: str | None = None  # source column (CSV) or XPath / attribute (XML)
    value: str | None = None  # the offending value, identifiers masked
    # The server's rule name for a malformed value where one fits (UGYLDIG_BELOEP for an
    # amount with three decimals); `code` keeps the mapping's own detail.
    rule: str | None = None
    # The server's own (Norwegian) text of a rule finding, beside the English `message`.
    server_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object the CLI and error reports write."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.rule is not None:
            out["rule"] = self.rule
        out["location"] = self.location
        if self.field is not None:
            out["field"] = self.field
        if self.source is not None:
            if self.source.rows:
                out["rows"] = list(self.source.rows)
            if self.source.element:
                out["element"] = self.source.element
            if self.source.line is not None:
                out["line"] = self.source.line
        if self.column is not None:
            out["column"] = self.column
        if self.value is not None:
            out["value"] = self.value
        if self.server_message is not None:
            out["serverMessage"] = self.server_message
        return out


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """An attachment a case needs, by file name, and where its `uuid` goes once uploaded."""

    filnavn: str
    type: str
    pointers: tuple[str, ...]  # JSON pointers of the Vedlegg objects to fill `uuid` in


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case of a source file: the begjæring (when ok) or the issues that stop it."""

    key: str
    ok: bool
    begjaering: dict[str, Any] | None  # None unless ok; Vedlegg objects have no `uuid`
    errors: tuple[CaseIssue, ...]
    attachments: tuple[AttachmentRef, ...]
    source: SourceLocation
    # The built begjæring's date when local prøving refused it (begjaering is None then),
    # so a rejected case's receipt still says which begjæring it was.
    refused_begjaeringsdato: str | None = None

    @property
    def innsender_referanse(self) -> str | None:
        """`innsenderReferanse` of the built begjæring, None if not built."""
        value = (self.begjaering or {}).get("innsenderReferanse")
        return value if isinstance(value, str) else None

    @property
    def begjaeringsdato(self) -> str | None:
        """`begjaeringsdato` of the built begjæring (also one prøving refused), else None."""
        value = (self.begjaering or {}).get("begjaeringsdato")
        return value if isinstance(value, str) else self.refused_begjaeringsdato
