"""The tool's own finding texts are English; the server's Norwegian text rides beside."""

from __future__ import annotations

import re

import pytest

from utlegg_gateway import model, provning
from utlegg_gateway.model import MODEL_CODES

# Norwegian domain terms used as names inside English lines (not sentences).
_TERMS = re.compile(
    r"saksøker|saksøkt|begjæring|forliksrådet|påstand|påloggetOrgnr|beløp|"
    r"transporterklæring|fødselsnummer|prøving|§",
    re.IGNORECASE,
)
_WORDS = (" og ", " ikke ", " må ", " skal ", "feil", "mangler", " er ", " med ", " av ")


def _norwegian(text: str) -> list[str]:
    bare = _TERMS.sub("", re.sub(r"%\w+|'[^']*'", "", text))
    hits = [c for c in "æøåÆØÅ" if c in bare]
    padded = f" {bare.lower()} "
    return hits + [w for w in _WORDS if w in padded]


def _templates() -> list[tuple[str, str]]:
    out = [(name, info.explain()) for name, info in provning.RULES.items()]
    out += [(name, line) for name, info in provning.RULES.items() for line in info.english_variants]
    out += [(code, text) for code, text in MODEL_CODES.items()]
    out += [(kind, text) for kind, text in model._TYPE_TEXT.items()]
    return out


@pytest.mark.parametrize(("name", "text"), _templates())
def test_tool_texts_are_english(name: str, text: str) -> None:
    assert _norwegian(text) == [], f"{name}: {text!r}"


def test_the_check_catches_norwegian() -> None:
    assert _norwegian("Vedlegg '%s' mangler uuid")
    assert _norwegian("Kidnummer %kidnummer er feil")


def test_finding_carries_server_text_beside_english() -> None:
    f = provning.finding("VEDLEGG_SKAL_HA_UUID", "/x", "a.pdf")
    assert f.message == "Attachment 'a.pdf' has no uuid"
    assert f.serverMessage == "Vedlegg 'a.pdf' mangler uuid"
    own = provning.finding("UGYLDIG_TEGN", "/x", felt="navn", tegn="U+200B")
    assert own.serverMessage is None
    assert "contains the character U+200B" in own.message


def _server_texts() -> list[tuple[str, int, list[str], dict[str, str]]]:
    """Every server rule's Norwegian template (each variant) with distinct sample values."""
    out = []
    for name, info in provning.RULES.items():
        if info.since == "own":
            continue
        for variant, template in enumerate(info.variants or (info.message,)):
            names = re.findall(r"%([A-Za-zæøåÆØÅ]+)", template)
            values = {n: f"<{n}-{i}>" for i, n in enumerate(names) if n != "s"}
            args = [f"<s-{i}>" for i, n in enumerate(names) if n == "s"]
            out.append((name, variant, args, values))
    return out


@pytest.mark.parametrize(("name", "variant", "args", "values"), _server_texts())
def test_a_server_answer_is_said_in_english_with_its_own_values(
    name: str, variant: int, args: list[str], values: dict[str, str]
) -> None:
    """ELAN's filled text is read back through its template: the English line carries the
    same values (what a rejection from the server shows in receipts)."""
    info = provning.RULES[name]
    text = info.format_variant(variant, *args, **values)
    assert provning.explain_server(name, text) == info.explain_variant(variant, *args, **values)


def test_a_server_text_that_fits_no_template_is_left_as_is() -> None:
    assert provning.explain_server("ER_IKKE_HOVEDENHET", "Noe helt annet") is None
    assert provning.explain_server("UKJENT_REGEL", "Saksøker er ikke angitt med hovedenhet") is None
    assert provning.explain_server("UGYLDIG_TEGN", "x") is None  # our own code: no server text
