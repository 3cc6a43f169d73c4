"""An OpenAPI 3.0 document as a validator of requests and responses (jsonschema underneath).

The document's schemas are translated once to JSON Schema 2020-12 and resolved through
`referencing`. `nullable: true` is read the way the generator (NSwag / FastEndpoints)
means it: null is allowed *as well as* whatever the rest of the schema says, also when
the rest is only `oneOf: [{$ref}]` (OpenAPI 3.0 strictly ignores `nullable` without a
sibling `type`, which would reject every null `content` the real service sends).

`check_response` and `check_request` return a list of human-readable findings; an empty
list means the message conforms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_ROOT = "urn:contract:openapi"
_FORMATS = FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # RFC 3339: a date, a time and an explicit offset (fromisoformat alone accepts naive).
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError("not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@_FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if isinstance(value, str):
        UUID(value)
    return True


def to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema (recursively) as JSON Schema 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: to_json_schema(v)
        for k, v in node.items()
        if k not in ("nullable", "example", "discriminator", "readOnly", "writeOnly", "xml")
    }
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: Mapping[str, Any]


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class OpenApi:
    """One OpenAPI 3.0 document: find an operation, check a request or a response."""

    def __init__(self, document: Mapping[str, Any], *, name: str) -> None:
        self.name = name
        self.document = document
        converted = to_json_schema(dict(document))
        resource = Resource.from_contents(converted, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_ROOT, resource)
        self.operations: list[Operation] = []
        for template, item in document.get("paths", {}).items():
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            for method, spec in item.items():
                if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(regex + "$"), spec)
                    )

    @classmethod
    def load(cls, path: Path) -> OpenApi:
        # utf-8-sig: the generator writes a byte-order mark.
        return cls(json.loads(path.read_text(encoding="utf-8-sig")), name=path.name)

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.pattern.match(path):
                return op
        return None

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        """A validator for one (OpenAPI) schema whose `$ref`s point into the document."""
        converted = to_json_schema(dict(schema))
        wrapped = {"$schema": "https://json-schema.org/draft/2020-12/schema", **converted}
        text = json.dumps(wrapped).replace('"#/components/', f'"{_ROOT}#/components/')
        return Draft202012Validator(
            json.loads(text), registry=self._registry, format_checker=_FORMATS
        )

    def schema_errors(self, schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        errors = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.path))
        return [f"{where}{e.json_path.removeprefix('$')}: {e.message}"[:400] for e in errors]

    def check_response(
        self,
        op: Operation,
        status: int,
        content_type: str | None,
        body: bytes,
        *,
        declared: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Findings for one response; `declared` replaces the document's entry (a known gap)."""
        where = f"{op.method} {op.template} → {status}"
        response = declared or op.spec.get("responses", {}).get(str(status))
        if response is None:
            return [f"{where}: status {status} is not declared"]
        content: Mapping[str, Any] = response.get("content") or {}
        if not content:
            if body:
                return [f"{where}: declares no body, got {len(body)} bytes ({content_type})"]
            return []
        mt = media_type(content_type)
        if mt not in content:
            return [f"{where}: content type {mt or '(none)'} is not one of {sorted(content)}"]
        schema = content[mt].get("schema") or {}
        if mt.endswith("json"):
            try:
                value = json.loads(body)
            except ValueError:
                return [f"{where}: body is not JSON"]
        else:
            value = body.decode("utf-8", "replace")
        return self.schema_errors(schema, value, f"{where} body")

    def check_request(
        self, op: Operation, path: str, query: Iterable[tuple[str, str]]
    ) -> list[str]:
        """Findings for a request's path and query parameters (names and values)."""
        where = f"{op.method} {op.template} request"
        params = {p["name"]: p for p in op.spec.get("parameters", [])}
        findings: list[str] = []
        values: dict[str, list[str]] = {}
        for name, value in query:
            values.setdefault(name, []).append(value)
        for name, given in values.items():
            param = params.get(name)
            if param is None or param.get("in") != "query":
                findings.append(f"{where}: query parameter {name!r} is not declared")
                continue
            schema = param.get("schema") or {}
            base = _without_null(schema)
            if base.get("type") == "array":
                item_schema = base.get("items") or {}
                coerced: Any = [_coerce(item_schema, v) for v in given]
            elif len(given) > 1:
                findings.append(f"{where}: {name!r} given {len(given)} times, declares one")
                continue
            else:
                coerced = _coerce(base, given[0])
            findings += self.schema_errors(schema, coerced, f"{where} {name}")
        segments = self._path_values(op, path)
        for name, value in segments.items():
            param = params.get(name)
            if param is None:
                findings.append(f"{where}: path parameter {name!r} is not declared")
            else:
                schema = param.get("schema") or {}
                coerced = _coerce(_without_null(schema), value)
                findings += self.schema_errors(schema, coerced, f"{where} {name}")
        for name, param in params.items():
            if param.get("required") and param.get("in") == "query" and name not in values:
                findings.append(f"{where}: required query parameter {name!r} is missing")
        return findings

    @staticmethod
    def _path_values(op: Operation, path: str) -> dict[str, str]:
        names = re.findall(r"\{([^/]+?)\}", op.template)
        regex = re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(op.template))
        match = re.match(regex + "$", path)
        return dict(zip(names, match.groups(), strict=True)) if match else {}


def _without_null(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    return {k: v for k, v in schema.items() if k != "nullable"}


def _coerce(schema: Mapping[str, Any], raw: str) -> Any:
    """A query-string value as the type its schema declares (left as text if it is not)."""
    kind = schema.get("type")
    if kind == "integer":
        return int(raw) if re.fullmatch(r"-?\d+", raw) else raw
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw
