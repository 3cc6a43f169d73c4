"""Model 2.1 (AD-2.1 change log, 2026-05-26): new field, optional fields, deprecations.

There is no published 2.0 example file: `base()` (tests/provning/_payload.py) is the
project's 2.0-clean begjæring and stands in for it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.provning._payload import base, ctx
from utlegg_gateway.cli import main
from utlegg_gateway.config import load_settings
from utlegg_gateway.errors import ConfigError
from utlegg_gateway.model import DEFAULT_MODEL_VERSION, SPECS, check_structure, declare_version
from utlegg_gateway.provning import deprecations, validate

TG = "/begjaeringensTvangsgrunnlag/0"


def _payload_2_1() -> dict[str, Any]:
    """2.1-style: kreverRenterAvRettsgebyr, no virksomhetstype, one deprecated field.

    Built from the 2.0 base with every other field 2.1 deprecates left out, and the
    agency moved from innsendersProsessfullmektig to saksøkers fullmektig as 2.1 asks.
    """
    doc = base()
    doc["kreverRettsgebyrErstattet"] = {
        "kreverRettsgebyrErstattet": True,
        "kreverRenterAvRettsgebyr": True,
        "prioritetISakRettsgebyr": "1",  # the claims have priorities, so the fee needs one
    }
    for party in doc["saksoeker"]:
        party["saksoeker"]["virksomhet"].pop("virksomhetstype")
    grunnlag = doc["begjaeringensTvangsgrunnlag"][0]
    for varsel in grunnlag["varsel"]:
        varsel.pop("type")
    saerlig = grunnlag["saerligTvangsgrunnlag"]
    del saerlig["skyldner"], saerlig["kreditor"], saerlig["skriftligMeddelelse"]["kravetsGrunnlag"]
    for krav in doc["kravTilInnkreving"]:
        krav.pop("rentekrav", None)
    agency = doc["innsender"].pop("innsendersProsessfullmektig")
    doc["saksoeker"][0]["saksoekersProsessfullmektig"] = agency
    # The one deprecated field left in: eksternSaksreferanse (the base has it, 1.1 wanted it).
    assert grunnlag["eksternSaksreferanse"]
    return doc


def _rules(findings: list[Any]) -> set[tuple[str, str]]:
    return {(f.rule, f.location) for f in findings}


def test_the_2_0_payload_passes_2_1_with_warnings_only() -> None:
    """What 2.0 accepts, 2.1 accepts; its deprecated fields are warnings, each located."""
    doc = base()
    assert validate(doc, ctx(version="2.1")) == []
    assert _rules(deprecations(doc, ctx(version="2.1"))) == {
        ("MODELL_FELT_UTGAAR", where)
        for where in (
            f"{TG}/eksternSaksreferanse",
            f"{TG}/saerligTvangsgrunnlag/kreditor",
            f"{TG}/saerligTvangsgrunnlag/skriftligMeddelelse/kravetsGrunnlag",
            f"{TG}/saerligTvangsgrunnlag/skyldner",
            f"{TG}/varsel/0/type",
            "/innsender/innsendersProsessfullmektig",
            "/kravTilInnkreving/1/rentekrav",
        )
    }


def test_a_2_1_payload_passes_2_1_with_exactly_one_deprecation_warning() -> None:
    """No error; one MODELL_FELT_UTGAAR warning, at the deprecated field."""
    doc = _payload_2_1()
    assert "virksomhetstype" not in json.dumps([p["saksoeker"] for p in doc["saksoeker"]])
    assert validate(doc, ctx(version="2.1")) == []
    warnings = deprecations(doc, ctx(version="2.1"))
    assert _rules(warnings) == {("MODELL_FELT_UTGAAR", f"{TG}/eksternSaksreferanse")}
    assert len(warnings) == 1
    assert "model version 2.1" in warnings[0].message


def test_the_same_payload_under_2_0_reports_the_unknown_and_the_missing_field() -> None:
    """2.0 does not know kreverRenterAvRettsgebyr and still requires virksomhetstype."""
    found = _rules(validate(_payload_2_1(), ctx(version="2.0")))
    assert (
        "MODELL_FELT_IKKE_I_VERSJON",
        "/kreverRettsgebyrErstattet/kreverRenterAvRettsgebyr",
    ) in (found)
    assert ("MODELL_MANGLER_FELT", "/saksoeker/0/saksoeker/virksomhet/virksomhetstype") in found
    # 2.0 has no deprecations: nothing to warn about.
    assert deprecations(_payload_2_1(), ctx(version="2.0")) == []


def test_a_warning_names_the_replacement_where_the_documentation_gives_one() -> None:
    """innsendersProsessfullmektig "fases ut": the warning points to saksøkers fullmektig."""
    doc = base()
    assert "innsendersProsessfullmektig" in doc["innsender"]
    (warning,) = [
        w
        for w in deprecations(doc, ctx(version="2.1"))
        if w.location == "/innsender/innsendersProsessfullmektig"
    ]
    assert warning.location == "/innsender/innsendersProsessfullmektig"
    assert "use saksoeker/*/saksoekersProsessfullmektig" in warning.message


def test_varsel_without_type_counts_as_the_4_18_varsel_under_2_1() -> None:
    """Varsel.type is deprecated: a typeless varsel must not fire PARAGRAF_4_18_VARSEL_PAAKREVET."""
    doc = base()
    grunnlag = doc["begjaeringensTvangsgrunnlag"][0]
    assert grunnlag.get("saerligTvangsgrunnlag") and grunnlag.get("varsel")
    for varsel in grunnlag["varsel"]:
        varsel.pop("type")
    assert "PARAGRAF_4_18_VARSEL_PAAKREVET" not in {
        f.rule for f in validate(doc, ctx(version="2.1"))
    }
    # Under 2.0 the type is required: the model says so, the rule fires as before.
    rules_2_0 = _rules(validate(doc, ctx(version="2.0")))
    assert ("MODELL_MANGLER_FELT", f"{TG}/varsel/0/type") in rules_2_0


def test_agency_without_virksomhetstype_does_not_misfire_the_bevillingshaver_rule() -> None:
    """Without virksomhetstype (2.1) the agency is not known to be one: no false finding."""
    doc = base()
    for actor in (
        doc["innsender"]["innsender"],
        doc["innsender"]["innsendersProsessfullmektig"]["prosessfullmektig"],
    ):
        actor["virksomhet"].pop("virksomhetstype")
    del doc["innsender"]["innsendersProsessfullmektig"]["bevillingshaver"]
    assert "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER" not in {
        f.rule for f in validate(doc, ctx(version="2.1"))
    }
    # A bevillingshaver given without a name is still reported.
    doc["innsender"]["innsendersProsessfullmektig"]["bevillingshaver"] = {
        "navn": {"fornavn": "Kari"}
    }
    assert (
        "MANGLER_OPPLYSNINGER_BEVILLINGSHAVER",
        "/innsender/innsendersProsessfullmektig/bevillingshaver",
    ) in _rules(validate(doc, ctx(version="2.1")))


def test_the_shipped_2_1_example_is_the_built_one() -> None:
    """tests/model/data/begjaering-2.1.json (README walk-through) equals `_payload_2_1()`."""
    path = Path(__file__).parent / "data" / "begjaering-2.1.json"
    assert json.loads(path.read_text(encoding="utf-8")) == _payload_2_1()


def test_new_configurations_default_to_2_1_everywhere() -> None:
    """config, `sandbox init` and the sandbox's own default agree on the newest model."""
    from utlegg_gateway.sandbox.options import SandboxOptions

    assert DEFAULT_MODEL_VERSION == "2.1"
    assert load_settings(None).model_version == "2.1"
    assert SandboxOptions().model_version == "2.1"
    readme = Path(__file__).parents[2].joinpath("README.md").read_text(encoding="utf-8")
    # The walk-through starts the sandbox on its default and submits the 2.1 example.
    assert "sandbox --registry creds &" in readme
    assert "--model-version 1.1 &" not in readme
    assert "submit tests/model/data/begjaering-2.1.json" in readme


def test_unknown_model_version_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown model version '9\.9'"):
        load_settings(None, overrides={"model_version": "9.9"})


@pytest.fixture
def version_3_0() -> Iterator[str]:
    """A fictitious 3.0, declared as data only: 2.1 with its deprecated fields removed."""
    spec_2_1 = SPECS["2.1"]
    spec = dataclasses.replace(
        spec_2_1,
        version="3.0",
        not_in_version=spec_2_1.not_in_version | frozenset(spec_2_1.deprecated),
        deprecated={},
    )
    declare_version(spec)
    try:
        yield "3.0"
    finally:
        del SPECS["3.0"]


def test_a_new_version_is_a_data_change(version_3_0: str) -> None:
    """Declared in a fixture, 3.0 is known to config and prøving without code changes."""
    assert load_settings(None, overrides={"model_version": version_3_0}).model_version == "3.0"
    doc = _payload_2_1()
    found = _rules(validate(doc, ctx(version=version_3_0)))
    assert found == {("MODELL_FELT_IKKE_I_VERSJON", f"{TG}/eksternSaksreferanse")}
    clean = copy.deepcopy(doc)
    del clean["begjaeringensTvangsgrunnlag"][0]["eksternSaksreferanse"]
    assert check_structure(clean, version_3_0) == []


def test_cli_validate_with_model_version_2_1(tmp_path: Path) -> None:
    """`validate --model-version 2.1 FILE`: exit 0, the warning printed, the version named."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_payload_2_1()), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--model-version", "2.1", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [ln for ln in lines if ln.startswith("warning: ")] == [
        f"warning: MODELL_FELT_UTGAAR  {TG}/eksternSaksreferanse  "
        "Field eksternSaksreferanse is deprecated in model version 2.1 and planned for removal"
    ]
    assert lines[-1] == f"{path}: OK (model 2.1, environment test)"
    # Without the flag the default is the same 2.1.
    default = CliRunner().invoke(main, ["validate", str(path)])
    assert default.exit_code == 0
    assert default.output.splitlines()[-1] == lines[-1]
