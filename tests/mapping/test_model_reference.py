"""docs/model.md is generated from the model and stays in sync with it."""

from __future__ import annotations

from utlegg_gateway.mapping.reference import DOC, model_reference
from utlegg_gateway.model import SPECS


def test_docs_model_md_is_current() -> None:
    """After a change to the model, the versions or the rules, regenerate the reference:
    `python -m utlegg_gateway.mapping.reference`."""
    assert DOC.read_text(encoding="utf-8") == model_reference()


def test_the_reference_holds_fields_code_values_versions_and_rules() -> None:
    """Spot checks of what a mapping author looks up."""
    text = model_reference()
    assert "| `begjaeringsdato` | date | yes |" in text
    assert "| `norskKonto` | true/false | yes |" in text
    assert "| `beloep` | number | yes |" in text
    for value in sorted(SPECS["2.1"].code_lists["VirksomhetsType"]):
        assert f"| `{value}` | yes | yes | yes |" in text
    assert "| `inkassovarsel` | yes |  |  |" in text  # VarselType: 1.1 only
    assert "- `/kreverRettsgebyrErstattet/kreverRenterAvRettsgebyr`" in text
    assert "| `VEDLEGG_SKAL_HA_UUID` | 0.9 | yes | yes | yes |" in text
