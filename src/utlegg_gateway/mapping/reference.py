"""The target-model reference (docs/model.md), generated from the model itself.

    model_reference() -> str     the Markdown text; a test keeps docs/model.md equal to it

What a mapping author writes into: every object of the begjæring with its fields, their
types (as `mapping check` reads them), whether the model requires them, and the code
list of coded fields; then what differs per model version (fields a version lacks,
requires beyond the model, or deprecates), every code list with its values per version,
and the rules local prøving runs per version. Regenerate with
`python -m utlegg_gateway.mapping.reference`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from utlegg_gateway.mapping.target import Target, field_target
from utlegg_gateway.model import ALTERNATIVE_SPELLINGS, SPECS, Begjaering
from utlegg_gateway.model._versions import rule_active
from utlegg_gateway.provning import RULES

__all__ = ["DOC", "model_reference"]

DOC = Path(__file__).resolve().parents[3] / "docs" / "model.md"


def _models() -> list[type[BaseModel]]:
    """Every object class of the begjæring, breadth first from the root."""
    out: list[type[BaseModel]] = []
    queue: list[type[BaseModel]] = [Begjaering]
    while queue:
        model = queue.pop(0)
        if model in out:
            continue
        out.append(model)
        for info in model.model_fields.values():
            target = field_target(info)
            while target.kind == "list" and target.item is not None:
                target = target.item
            if target.kind == "object" and target.model is not None:
                queue.append(target.model)
    return out


def _type(target: Target) -> str:
    if target.kind == "object" and target.model is not None:
        return f"[{target.model.__name__}](#{target.model.__name__.lower()})"
    if target.kind == "list" and target.item is not None:
        return f"list of {_type(target.item)}"
    if target.codes:
        return f"code, [{target.codes}](#code-list-{_anchor(target.codes)})"
    return target.describe()


def _anchor(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum() or c == "-")


def _fields(model: type[BaseModel]) -> list[str]:
    doc = (model.__doc__ or "").strip().splitlines()
    lines = [f"### {model.__name__}", ""]
    if doc and not doc[0].startswith("!"):
        lines += [doc[0], ""]
    lines += ["| Field | Type | Required |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        required = "yes" if info.is_required() else ""
        lines.append(f"| `{name}` | {_type(field_target(info))} | {required} |")
    return [*lines, ""]


def _versions() -> list[str]:
    versions = sorted(SPECS)
    lines = [
        "## What differs per model version",
        "",
        "Paths are JSON pointers with `*` for any list index. A field a version does not",
        "have is an error there; a field a version requires beyond the table above is",
        "required there; a deprecated field is accepted with a warning.",
        "",
    ]
    for version in versions:
        spec = SPECS[version]
        lines += [f"### Model {version}", ""]
        for title, paths in (
            ("Not in this version", sorted(spec.not_in_version)),
            ("Required in this version", sorted(spec.required)),
        ):
            lines.append(f"{title}:" + ("" if paths else " none."))
            lines += [f"- `{p}`" for p in paths]
            lines.append("")
        lines.append("Deprecated (planned to go):" + ("" if spec.deprecated else " none."))
        for path, instead in sorted(spec.deprecated.items()):
            lines.append(f"- `{path}`" + (f" (use `{instead}`)" if instead else ""))
        lines.append("")
    return lines


def _code_lists() -> list[str]:
    versions = sorted(SPECS)
    names = sorted({n for v in versions for n in SPECS[v].code_lists})
    lines = ["## Code lists", "", "Values as they must be written (case and letters exact).", ""]
    for name in names:
        lines += [f"### Code list {name}", "", "| Value | " + " | ".join(versions) + " |"]
        lines.append("|---|" + "---|" * len(versions))
        values = sorted({x for v in versions for x in SPECS[v].code_lists.get(name, ())})
        for value in values:
            marks = ["yes" if value in SPECS[v].code_lists.get(name, ()) else "" for v in versions]
            lines.append(f"| `{value}` | " + " | ".join(marks) + " |")
        lines.append("")
    return lines


def _rules() -> list[str]:
    versions = sorted(SPECS)
    lines = [
        "## Rules",
        "",
        "The server's rules and our own codes (docs/rules.md explains each), with the model",
        "versions local prøving runs them in; *server* rules need state only the server has",
        "and are never decided locally. The text is the server's own (Norwegian), as it",
        "appears in findings beside our English tool messages.",
        "",
        "| Rule | Since | " + " | ".join(versions) + " | Text |",
        "|---|---|" + "---|" * len(versions) + "---|",
    ]
    for name, rule in sorted(RULES.items()):
        runs = [
            ("server" if rule.server_only else "yes") if rule_active(rule.since, v) else ""
            for v in versions
        ]
        text = (rule.title or rule.message).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {rule.since} | " + " | ".join(runs) + f" | {text} |")
    return [*lines, ""]


def model_reference() -> str:
    """docs/model.md as the model makes it now."""
    lines = [
        "# The target model (reference)",
        "",
        "<!-- Generated by `python -m utlegg_gateway.mapping.reference` from the model",
        "     (model/_types.py, model/_versions.py) and the rule catalogue; do not edit: a",
        "     test keeps this file equal to what the code makes. -->",
        "",
        "What a mapping's template writes into: the ELAN utleggsbegjæring, as the union of",
        f"the model versions {', '.join(sorted(SPECS))} (the fields of a version are below).",
        "Types are those `utlegg-gateway mapping check` holds a template to: *text*, *date*",
        "(`yyyy-mm-dd`: a date transform), *number* (an amount transform), *true/false* (the",
        "`boolean` transform), *code* (one value of a code list), objects and lists. A choice",
        "(«valg») such as `virksomhet` / `person` / `sammenslutning` needs exactly one.",
        "",
        "Alternative spellings accepted and renamed:",
        "",
    ]
    for canon, alternatives in sorted(ALTERNATIVE_SPELLINGS.items()):
        lines.append(f"- `{canon}`: " + ", ".join(f"`{a}`" for a in alternatives))
    lines += ["", "## Objects", ""]
    for model in _models():
        lines += _fields(model)
    lines += _versions()
    lines += _code_lists()
    lines += _rules()
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":  # regenerate: python -m utlegg_gateway.mapping.reference
    DOC.write_text(model_reference(), encoding="utf-8")
