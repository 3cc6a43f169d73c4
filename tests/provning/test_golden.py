"""Golden findings: validate() must keep every rule, message, location and their order.

The inputs are rebuilt here (the rule cases, the samples, the official examples under
each version, environment and placeholder setting, and the base payload damaged node by
node); `data/golden-findings.json` holds what validate() answered for each. A change
that alters a finding on purpose regenerates the file and shows the diff in review:

    .venv/bin/python -m tests.provning.test_golden
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.provning._payload import DATA, SAMPLES, base, ctx
from tests.provning.test_rules import CASES
from utlegg_gateway.provning import ProvingContext, validate

GOLDEN = Path(__file__).resolve().parent / "data" / "golden-findings.json"

EXAMPLES = [
    *(DATA / f"model-{v}-begjaering-v1{k}.json" for v in ("1.0", "1.1") for k in ("", "-kompleks")),
    SAMPLES / "IB-2025-000127.json",
    SAMPLES / "IB-2025-000311.json",
]

# Replacements for a node: wrong types, bad amounts and identifiers, keys that need
# escaping in a JSON pointer ("/" and "~"), nested spots the generic walks must find.
JUNK: list[Any] = [
    None,
    -1.234,
    "",
    {},
    [],
    "12345678901",
    "123456789",
    7,
    True,
    {"a/b~c": {"beloep": -1, "taxIdentificationNumber": "1"}},
    [{"taxIdentificationNumber": "01017012345", "landkodeIdentifikator": "NO"}],
    {"paalydendeBeloep": 1.001, "avtaltRentesats": -2, "x": [{"beloep": 0.005}]},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _damaged(doc: Any, path: tuple[Any, ...], junk: Any, *, delete: bool) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = copy.deepcopy(junk)
    return out


def inputs() -> Iterator[tuple[str, Any, ProvingContext]]:
    """Every (id, payload, context) of the golden check, in a fixed order."""
    for n, case in enumerate(CASES):
        doc = base()
        case.mutate(doc)
        for version in ("2.0", "1.1"):
            kw: dict[str, Any] = {"version": version, **case.ctx}
            if case.previous:
                kw["previous"] = base()
            yield f"case/{n}/{case.rule}/{version}", doc, ctx(**kw)
    for example in EXAMPLES:
        doc = json.loads(example.read_text(encoding="utf-8"))
        for version in ("1.1", "2.0"):
            for environment in ("test", "prod"):
                for placeholders in (False, True):
                    yield (
                        f"example/{example.name}/{version}/{environment}/{placeholders}",
                        doc,
                        ctx(
                            version=version,
                            environment=environment,
                            allow_upload_placeholders=placeholders,
                        ),
                    )
    doc = base()
    change = ctx(version="1.1", previous=base(), authenticated_orgnr="1")
    for i, spot in enumerate(_paths(doc)):
        where = "/".join(map(str, spot))
        junk = JUNK[i % len(JUNK)]
        yield f"damaged/{where}/{i % len(JUNK)}", _damaged(doc, spot, junk, delete=False), ctx()
        yield f"deleted/{where}", _damaged(doc, spot, None, delete=True), change
    # Deep nesting: a faster walk must not spend more stack per level than the old one
    # did (the old code handled objects ~990 deep, arrays ~490, under the default limit).
    deep: Any = {"beloep": -1}
    for _ in range(700):
        deep = {"a": deep}
    yield "deep/object/700", {"kravTilInnkreving": deep}, ctx()
    deep = [{"taxIdentificationNumber": "1"}]
    for _ in range(300):
        deep = [deep]
    yield "deep/array/300", {"vedlegg": deep}, ctx()


def findings() -> dict[str, list[list[str]]]:
    """What validate() answers for each input: [rule, location, server text] in order.

    The server's (Norwegian) text where the rule is the server's, else the English message.
    """
    return {
        key: [[f.rule, f.location, f.serverMessage or f.message] for f in validate(doc, c)]
        for key, doc, c in inputs()
    }


def test_findings_match_the_golden_file() -> None:
    """Every input gives exactly the recorded findings, in the recorded order."""
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = findings()
    assert sorted(got) == sorted(want)
    differ = [key for key in want if got[key] != want[key]]
    assert not differ, (differ[:5], [got[k] for k in differ[:1]], [want[k] for k in differ[:1]])


def test_golden_file_exercises_most_rules() -> None:
    """The golden inputs are not trivially clean: they reach 60+ different rules."""
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len({f[0] for found in want.values() for f in found}) >= 60


if __name__ == "__main__":
    GOLDEN.write_text(
        json.dumps(findings(), ensure_ascii=False, indent=0, sort_keys=True) + "\n",
        encoding="utf-8",
    )
