"""validate() as a whole: the project's samples, robustness, ordering, the catalogue API."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.provning._payload import SAMPLES, base, ctx
from utlegg_gateway.model.pointer import sort_key
from utlegg_gateway.provning import (
    RULES,
    SERVER_ONLY_RULES,
    Finding,
    finding,
    format_finding,
    validate,
)

SAMPLE_FILES = ["IB-2025-000127.json", "IB-2025-000311.json"]


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", ["1.1", "2.0"])
@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_expected_mapping_outputs_are_clean(name: str, version: str) -> None:
    """The two expected cases pass under 2.0 and 1.1 in test when placeholders are allowed."""
    assert validate(_sample(name), ctx(version=version, allow_upload_placeholders=True)) == []


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_upload_placeholders_are_refused_unless_allowed(name: str) -> None:
    """ "<upload:FILE>" is no UUID: without the flag every such uuid is reported."""
    found = validate(_sample(name), ctx())
    assert found
    assert {f.rule for f in found} == {"VEDLEGG_UGYLDIG_UUID"}
    assert all(f.location.endswith("/uuid") for f in found)


def test_samples_are_refused_in_prod_for_their_synthetic_identities() -> None:
    """Tenor identities in the samples are reported one by one in prod, masked."""
    found = validate(
        _sample("IB-2025-000311.json"), ctx(environment="prod", allow_upload_placeholders=True)
    )
    assert {f.rule for f in found} == {"SYNTETISK_IDENTITET_I_PROD"}
    person = [
        f
        for f in found
        if f.location == "/saksoekt/1/saksoekt/person/identifikator/taxIdentificationNumber"
    ]
    assert len(person) == 1
    assert "05818004402" not in person[0].message and "*********02" in person[0].message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["saksoekt", "kravTilInnkreving", "beloep", "a"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_validate_never_raises_on_arbitrary_json(payload: Any) -> None:
    """Any JSON value gives findings, never an exception or an internal error."""
    found = validate(payload, ctx())
    assert all(isinstance(f, Finding) for f in found)
    assert "PROVING_INTERN_FEIL" not in {f.rule for f in found}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


ALL_PATHS = _paths(base())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS), JSON)
def test_validate_never_raises_on_a_damaged_begjaering(path: tuple[Any, ...], junk: Any) -> None:
    """Replacing any node of a valid payload with junk never breaks a rule check."""
    doc = copy.deepcopy(base())
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = junk
    assert "PROVING_INTERN_FEIL" not in {f.rule for f in validate(doc, ctx(previous=base()))}


def test_findings_are_sorted_by_pointer_with_numeric_indexes() -> None:
    """Index 2 sorts before index 10, and the order is stable across runs."""
    doc = base()
    extra = copy.deepcopy(doc["kravTilInnkreving"][2])
    for i in range(10):
        krav = copy.deepcopy(extra)
        krav["relatertKrav"] = [f"MISSING-{i}"]
        krav["innsendersKravreferanse"] = f"K{i}"
        doc["kravTilInnkreving"].append(krav)
        doc["begjaeringensTvangsgrunnlag"][0]["innsendersKravreferanse"].append(f"K{i}")
    found = validate(doc, ctx())
    assert [sort_key(f.location) for f in found] == sorted(sort_key(f.location) for f in found)
    assert found == validate(doc, ctx())
    assert found[0].location == "/kravTilInnkreving/3/relatertKrav/0"


def test_server_only_rules_have_messages_for_the_sandbox() -> None:
    """Every server-only rule formats a Norwegian message from its placeholders."""
    assert (
        RULES["DUPLIKAT_INNSENDING"].format(begjæringsdato="2025-09-04", innsenderReferanse="IB-1")
        == "Sak med begjæringsdato 2025-09-04 og referanse IB-1 er allerede sendt inn"
    )
    assert RULES["VEDLEGG_SKAL_VAERE_TILGJENGELIG"].format_variant(0, "a.pdf", "u-1") == (
        "Vedlegg 'a.pdf' med id 'u-1' finnes ikke."
    )
    for name in SERVER_ONLY_RULES:
        assert RULES[name].message, name
    made = finding("SAKSOEKT_GAMMELT_REGELVERK", "/saksoekt/0", identifikator="*********51")
    assert made.serverMessage is not None
    assert made.serverMessage.startswith("Saksøkt med identifikator *********51 må behandles")
    assert made.message == (
        "Saksøkt *********51 is handled under the old regulations and must be submitted "
        "through ELSA"
    )
    assert format_finding(made) == f"SAKSOEKT_GAMMELT_REGELVERK  /saksoekt/0  {made.message}"
