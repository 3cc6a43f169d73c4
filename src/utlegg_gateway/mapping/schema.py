"""The JSON Schema of mapping files, for editors (completion, typos flagged as you type).

    mapping_schema() -> dict        built from the language and the target model
    SCHEMA_FILE                     the shipped copy, `mapping.schema.json` beside this module

The header (`source` and its options) comes from the pydantic models the loader validates
with; the template from the target model (`model._types`), so the editor offers the
begjæring's own field names at each level and flags one that does not exist, and from the
language (value expressions, transforms, conditions, `$for_each`). The loader stays the
judge (`mapping check`): the schema is what an editor can know without running it.
A test keeps the shipped file equal to `mapping_schema()` (regenerate it with
`python -m utlegg_gateway.mapping.schema`); `utlegg-gateway mapping schema` writes it out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from utlegg_gateway.mapping.spec import (
    _EXPR_KEYS,
    _SOURCE_KEYS,
    _TESTS,
    VEDLEGG_TYPES,
    CsvSource,
    FixedSource,
    RecordsSource,
    XmlSource,
)
from utlegg_gateway.mapping.target import Target, field_target
from utlegg_gateway.mapping.transforms import TRANSFORMS
from utlegg_gateway.model import Begjaering

__all__ = ["SCHEMA_FILE", "mapping_schema", "schema_text"]

SCHEMA_FILE = Path(__file__).with_name("mapping.schema.json")
SCHEMA_ID = "https://utlegg-gateway.invalid/schemas/mapping.schema.json"


def _source_schemas(defs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for cls in (CsvSource, XmlSource, RecordsSource, FixedSource):
        schema = cls.model_json_schema(ref_template="#/$defs/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            defs[name] = sub
        name = cls.__name__
        defs[name] = schema
        out.append({"$ref": f"#/$defs/{name}"})
    # A position may be written "3-11" (start-end), read by FieldPos.parse before validation.
    if "FieldPos" in defs and "anyOf" not in defs["FieldPos"]:
        defs["FieldPos"] = {
            "anyOf": [
                defs["FieldPos"],
                {"type": "string", "pattern": r"^\s*\d+\s*-\s*\d+\s*$"},
            ]
        }
    return out


def _expr_defs() -> dict[str, Any]:
    names = sorted(TRANSFORMS)
    step = {
        "anyOf": [
            {"enum": names},
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "propertyNames": {"enum": names},
                "description": "a transform with its argument, {name: argument}",
            },
        ]
    }
    source_props: dict[str, Any] = {
        "col": {"type": "string", "description": "a column (CSV) or TYPE.COLUMN (records)"},
        "xpath": {"type": "string", "description": "an XPath from the current element"},
        "const": {"description": "a constant value"},
        "var": {"type": "string", "description": "a variable bound by $as (p, p.key)"},
        "concat": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/expr"}]},
        },
        "coalesce": {"type": "array", "items": {"$ref": "#/$defs/expr"}},
        "transform": {"anyOf": [step, {"type": "array", "items": step}]},
        "strip": {"type": "boolean"},
    }
    expr_props = {
        **source_props,
        "default": {"description": "used when the source is empty or `when` is false"},
        "required": {"type": "boolean"},
        "when": {"$ref": "#/$defs/condition"},
        "attachment": {"enum": sorted(VEDLEGG_TYPES)},
    }
    assert set(expr_props) == set(_EXPR_KEYS)
    cond_props = {
        **source_props,
        "equals": {},
        "in": {"type": "array"},
        "not_in": {"type": "array"},
        "empty": {"type": "boolean"},
        "present": {"type": "boolean"},
        "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
        "any": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
        "not": {"$ref": "#/$defs/condition"},
    }
    assert set(_TESTS) <= set(cond_props)
    one_source = [{"required": [k]} for k in _SOURCE_KEYS]
    return {
        "expr": {
            "type": "object",
            "description": "a value: read (col/xpath/const/var/concat/coalesce), transform, check",
            "properties": expr_props,
            "additionalProperties": False,
            "oneOf": one_source,
        },
        "condition": {
            "type": "object",
            "properties": cond_props,
            "additionalProperties": False,
        },
        "forEachSource": {
            "anyOf": [
                {"$ref": "#/$defs/expr"},
                {
                    "type": "object",
                    "properties": {
                        "group_by": {"type": "string"},
                        "rows": {"const": True},
                        "records": {"type": "string"},
                        "repeat": {
                            "anyOf": [
                                {"type": "integer", "minimum": 1},
                                {
                                    "type": "array",
                                    "items": {"type": "integer"},
                                    "minItems": 2,
                                    "maxItems": 2,
                                },
                            ]
                        },
                    },
                    "additionalProperties": False,
                    "minProperties": 1,
                    "maxProperties": 1,
                },
            ]
        },
    }


class _Builder:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def model(self, model: type[BaseModel]) -> dict[str, Any]:
        """`{"$ref": …}` to the template object of `model` (made once)."""
        name = f"template.{model.__name__}"
        if name not in self.defs:
            self.defs[name] = {}  # placeholder against recursion
            props: dict[str, Any] = {
                "$when": {"$ref": "#/$defs/condition"},
                "$omit_if_empty": {"type": "boolean"},
            }
            for field, info in model.model_fields.items():
                props[field] = self.node(field_target(info))
                if info.description:
                    props[field]["description"] = info.description
            self.defs[name] = {
                "type": "object",
                "description": f"{model.__name__} (target model)",
                "properties": props,
                "additionalProperties": False,
            }
        return {"$ref": f"#/$defs/{name}"}

    def node(self, target: Target) -> dict[str, Any]:
        if target.kind == "object" and target.model is not None:
            return {"anyOf": [self.model(target.model), {"$ref": "#/$defs/expr"}]}
        if target.kind in {"list", "texts"}:
            item = (
                self.node(target.item)
                if target.kind == "list" and target.item is not None
                else {"$ref": "#/$defs/expr"}
            )
            each = {
                "type": "object",
                "properties": {
                    "$for_each": {"$ref": "#/$defs/forEachSource"},
                    "$item": item,
                    "$as": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "$when": {"$ref": "#/$defs/condition"},
                    "$omit_if_empty": {"type": "boolean"},
                },
                "required": ["$for_each", "$item"],
                "additionalProperties": False,
            }
            return {"anyOf": [{"type": "array", "items": item}, each, {"$ref": "#/$defs/expr"}]}
        return {"$ref": "#/$defs/expr", "description": target.describe()}


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a mapping file."""
    defs: dict[str, Any] = {}
    sources = _source_schemas(defs)
    defs.update(_expr_defs())
    template = _Builder(defs).model(Begjaering)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "utlegg-gateway mapping file",
        "description": "A mapping from a legacy export to ELAN begjæringer (docs/mapping.md).",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "patterns": {"type": "array", "items": {"type": "string"}},
            "source": {"anyOf": sources},
            "case": {
                "type": "object",
                "properties": {"key": {"$ref": "#/$defs/expr"}},
                "required": ["key"],
                "additionalProperties": False,
            },
            "template": template,
        },
        "patternProperties": {"^x-": {"description": "reusable parts (YAML anchors)"}},
        "required": ["source", "case", "template"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(mapping_schema(), ensure_ascii=False, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":  # regenerate the shipped file: python -m utlegg_gateway.mapping.schema
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
