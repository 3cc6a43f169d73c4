"""The outbox's published contract: JSON Schema, XSD and CSV column specs, one per kind.

Shipped in the package so that an integrator can have them without the source:
`utlegg-gateway schemas --out DIR` writes them out. `docs/outbox.md` describes each kind
and the versioning policy; `CHANGELOG.md` beside these files records every change.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from utlegg_gateway.errors import UsageError

__all__ = ["SCHEMA_FILES", "schema_text", "write_schemas"]

# kind -> (JSON Schema, XSD or None, CSV column spec or None), all version 1
SCHEMA_FILES: dict[str, tuple[str, str | None, str | None]] = {
    "kvittering": ("kvittering.v1.schema.json", "kvittering.v1.xsd", "kvittering.v1.csv.json"),
    "feilrapport": ("feilrapport.v1.schema.json", None, None),
    "statusendring": (
        "statusendring.v1.schema.json",
        "statusendring.v1.xsd",
        "statusendring.v1.csv.json",
    ),
    "melding": ("melding.v1.schema.json", "melding.v1.xsd", "melding.v1.csv.json"),
    "ikke-sendt-til-elan": ("ikke-sendt-til-elan.v1.schema.json", None, None),
}


def _names() -> list[str]:
    names = [n for files in SCHEMA_FILES.values() for n in files if n is not None]
    return [*names, "CHANGELOG.md"]


def schema_text(name: str) -> str:
    """The text of one shipped schema file (by its file name)."""
    if name not in _names():
        raise KeyError(name)
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def write_schemas(out: Path) -> list[Path]:
    """Write every schema file (and the changelog) into `out`; returns the paths."""
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in _names():
            target = out / name
            target.write_text(schema_text(name), encoding="utf-8")
            written.append(target)
    except OSError as exc:
        raise UsageError(f"cannot write the schemas to {out}: {exc.strerror or exc}") from exc
    return written
