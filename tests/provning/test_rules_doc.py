"""docs/rules.md's table of the 72 rules agrees with the catalogue: names, side, versions."""

from __future__ import annotations

import re
from pathlib import Path

from utlegg_gateway.model import SPECS
from utlegg_gateway.model._versions import rule_active
from utlegg_gateway.provning import NOT_DECIDABLE_RULES, OWN_CODES, RULES, SERVER_ONLY_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
_ROW = re.compile(
    r"^\| `(?P<name>[^`]+)` \| (?P<side>[a-z -]+) \| (?P<since>[^ |]+) \| (?P<versions>[\d./]+) \|"
)


def _rows() -> dict[str, tuple[str, str, str]]:
    section = DOC.read_text("utf-8").split("## The 72 server rules", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = _ROW.match(line)
        if m:
            out[m["name"]] = (m["side"], m["since"], m["versions"])
    return out


def test_the_table_lists_exactly_the_catalogue() -> None:
    """Every documented server rule once; none of our own codes among them."""
    server = {name for name in RULES if name not in OWN_CODES}
    assert len(server) == 72
    assert set(_rows()) == server


def test_side_since_and_versions_follow_the_catalogue() -> None:
    """Who decides each rule and where it runs, as the code decides it."""
    for name, (side, since, versions) in _rows().items():
        expected_side = (
            "server-only"
            if name in SERVER_ONLY_RULES
            else "not decidable"
            if name in NOT_DECIDABLE_RULES
            else "local"
        )
        assert side == expected_side, name
        assert since == RULES[name].since, name
        runs = "/".join(v for v in sorted(SPECS) if rule_active(since, v))
        assert versions == runs, name
