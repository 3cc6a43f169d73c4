"""Structured logs with masked identifiers: no fødselsnummer, token or key ever reaches a log.

Use `log = get_logger(__name__)` and `log.info("case submitted", extra=fields(case=..., ...))`.
Masking runs in the handler's filter, so it applies to every record whatever its source
(our code, httpx, uvicorn), to the message and to every structured field.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "configure_logging",
    "fields",
    "get_logger",
    "is_person_number",
    "mask",
    "mask_identifier",
]

# 11 digits standing alone: not part of a longer token (a UUID such as a korrelasjonsid,
# an eksternSaksreferanse, a KID or a reference with letters, digits, `_` or `-` around
# it), which must reach the log intact because operators quote them to Skatteetaten.
_ELEVEN_DIGITS = re.compile(r"(?<![\w-])\d{11}(?![\w-])")
# A number the text itself calls a person's identifier is masked even when its check
# digits are wrong: a mistyped fødselsnummer is still (nearly) someone's.
_NAMED_PERSON_NUMBER = re.compile(
    r"(?i)(?:fødselsnummer|fodselsnummer|fnr|d-nummer|dnummer|personnummer|identifikator)"
    r"\W{0,3}$"
)
_CHECK1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_CHECK2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)
_ASSERTION = re.compile(r"(assertion=)[^&\s]+")


def mask_identifier(value: str) -> str:
    """Mask a personal identifier for display: keep only the last two digits."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 4:
        return "*" * len(value)
    return "*" * (len(digits) - 2) + digits[-2:]


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return (11 - rest) % 11  # 10 is no valid digit: the caller compares with one


def is_person_number(number: str) -> bool:
    """True when `number` is a valid fødselsnummer or D-nummer (Tenor and H-nummer too).

    Both modulus-11 check digits and a plausible birth date (D-nummer: day + 40;
    H-nummer: month + 40; Tenor test identities: month + 80) are required.
    """
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return False
    if _check_digit(number[:9], _CHECK1) != int(number[9]):
        return False
    if _check_digit(number[:10], _CHECK2) != int(number[10]):
        return False
    day, month = int(number[0:2]), int(number[2:4])
    day -= 40 if day > 40 else 0
    month -= 80 if month > 80 else 40 if month > 40 else 0
    try:
        datetime(2000, month, day)  # a leap year: 29 February is a valid birthday
    except ValueError:
        return False
    return True


def _mask_person_number(match: re.Match[str]) -> str:
    number = match.group(0)
    before = match.string[max(0, match.start() - 20) : match.start()]
    if is_person_number(number) or _NAMED_PERSON_NUMBER.search(before):
        return "*********" + number[-2:]
    return number


def mask(text: str) -> str:
    """Remove identifiers, tokens and private keys from free text.

    A fødselsnummer / D-nummer is masked to its last two digits when it stands alone and
    its check digits hold (or the text names it as one); 11-digit runs inside UUIDs,
    references and other longer tokens, and numbers that are no person's (most
    kontonummer and KIDs), are left as they are.
    """
    text = _PEM_KEY.sub("[private key removed]", text)
    text = _JWT.sub("[token removed]", text)
    text = _BEARER.sub(r"\1[token removed]", text)
    text = _ASSERTION.sub(r"\1[grant removed]", text)
    return _ELEVEN_DIGITS.sub(_mask_person_number, text)


def _mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_any(v) for v in value]
    return value


def fields(**kw: Any) -> dict[str, Any]:
    """Structured fields for a log call: `log.info("msg", extra=fields(case="X"))`."""
    return {"fields": kw}


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        extra = getattr(record, "fields", None)
        if extra:
            record.fields = _mask_any(extra)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", None) or {})
        if record.exc_text:
            out["exception"] = record.exc_text
        text = json.dumps(out, ensure_ascii=False, default=str)
        # A file name that was not UTF-8 (surrogates) is written as \udcNN, never an error.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = getattr(record, "fields", None)
        if extra:
            text += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return text


class _ConsoleHandler(logging.Handler):
    """Writes through a rich Console, or a live display's `print` (one writer at a time
    with its refresh): while the display runs, each log line is printed above the
    progress lines instead of through them."""

    def __init__(self, console: Any) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            # Plain text: a file name with [brackets] is not rich markup.
            self._console.print(text, markup=False, highlight=False, emoji=False)
        except Exception:
            self.handleError(record)


def configure_logging(
    *, json_lines: bool, level: str = "INFO", stream: Any = None, console: Any = None
) -> None:
    """Install one masked handler on the root logger (JSON lines or plain text).

    With a rich `console` (the terminal of `once`), text lines go through it.
    """
    handler: logging.Handler
    if console is not None and not json_lines:
        handler = _ConsoleHandler(console)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_MaskingFilter())
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request line at INFO; keep ours as the record of calls.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """A standard logger; masking happens in the handler installed by `configure_logging`."""
    return logging.getLogger(name)
