"""The value types of local prøving (re-exported by `utlegg_gateway.provning`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from utlegg_gateway.config import Environment
from utlegg_gateway.model import DEFAULT_MODEL_VERSION, ModelVersion

__all__ = ["Finding", "ProvingContext", "RuleInfo"]

# The server's placeholders: %name (letters incl. æøå) or a positional %s.
_PLACEHOLDER = re.compile(r"%([A-Za-zæøåÆØÅ]+)")


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: the server's rule name (or our own code), its message, where."""

    rule: str
    message: str
    location: str  # JSON pointer into the payload, "" for the whole document
    # The server's own (Norwegian) text for the rule, beside the English `message`; None
    # for our own codes, which the server has no text for.
    serverMessage: str | None = None


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A documented rule: name, Norwegian message template, description, origin.

    `message` is the server's avvikstekst with its placeholders (`%kravreferanse`,
    positional `%s`); where the server documents none, its title stands in.
    `since` is the first model/doc version with the rule ("0.9", "1.0", "Feb26", "2.0"),
    or "own" for our codes. `variants` lists the alternative texts of rules whose
    documentation gives several ("En av følgende").
    """

    name: str
    message: str
    description: str
    since: str
    changes_only: bool = False
    server_only: bool = False
    title: str = ""
    variants: tuple[str, ...] = ()
    local: bool = True
    english: str = ""  # the gateway's own (English) text, same placeholders
    english_variants: tuple[str, ...] = ()

    def explain(self, *args: object, **values: object) -> str:
        """The English message with placeholders filled (what the gateway says)."""
        return self.explain_variant(0, *args, **values)

    def explain_variant(self, variant: int, *args: object, **values: object) -> str:
        """Like `explain`, with the English line of alternative text number `variant`."""
        if self.english_variants:
            template = self.english_variants[min(variant, len(self.english_variants) - 1)]
        else:
            template = self.english or self.message
        return _fill(template, args, values)

    def explain_server(self, text: str) -> str | None:
        """The English line of a text the server filled from this rule, None if none fits.

        The values are read back out of `text` through the Norwegian template (each
        variant in turn), so ELAN's own answer is said in the tool's language too.
        """
        for variant, template in enumerate(self.variants or (self.message,)):
            found = _read_back(template, text)
            if found is not None:
                args, values = found
                return self.explain_variant(variant, *args, **values)
        return None

    def format(self, *args: object, **values: object) -> str:
        """The message with placeholders filled: named from `values`, `%s` from `args`."""
        return self.format_variant(0, *args, **values)

    def format_variant(self, variant: int, *args: object, **values: object) -> str:
        """Like `format`, with alternative text number `variant` (see `variants`)."""
        template = self.variants[variant] if self.variants else self.message
        return _fill(template, args, values)


def _read_back(template: str, text: str) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """The placeholder values that turn `template` into `text`, None if it cannot."""
    names: list[str] = []
    pattern = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        pattern += [re.escape(template[last : match.start()]), "(.*?)"]
        names.append(match.group(1))
        last = match.end()
    pattern.append(re.escape(template[last:]))
    hit = re.fullmatch("".join(pattern), text.strip(), re.DOTALL)
    if hit is None:
        return None
    values = dict(zip(names, hit.groups(), strict=True))
    args = tuple(v for n, v in zip(names, hit.groups(), strict=True) if n == "s")
    values.pop("s", None)
    return args, values


def _fill(template: str, args: tuple[object, ...], values: dict[str, object]) -> str:
    positional = iter(args)

    def named(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "s":
            return str(next(positional, "%s"))
        return str(values[key]) if key in values else match.group(0)

    return _PLACEHOLDER.sub(named, template)


@dataclass(frozen=True, slots=True)
class ProvingContext:
    """What a rule may know besides the payload."""

    today: date
    version: ModelVersion = DEFAULT_MODEL_VERSION
    environment: Environment = "test"
    # The begjæring as last accepted, for the change-only rules (endring); None for new.
    previous: Mapping[str, Any] | None = field(default=None)
    # The organisation the call is authenticated as; enables
    # INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING locally (the sandbox passes the token's).
    authenticated_orgnr: str | None = None
    # Accept "<upload:FILE>" in Vedlegg.uuid: a payload built before its uploads ran.
    allow_upload_placeholders: bool = False
