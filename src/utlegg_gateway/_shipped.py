"""The mappings and the demo's example exports that ship with the package.

One source of truth: the top-level `mappings/` folder of the repository. A wheel (and so
`pip install .`, `pipx install`, the Docker image) carries a copy of it as package data at
`utlegg_gateway/mappings/` (hatch `force-include`, see pyproject.toml); an editable
install or a plain checkout reads the top-level folder itself. Both are found through
`importlib.resources`, so nothing depends on the current directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from utlegg_gateway.errors import ConfigError

__all__ = ["mapping_search_dirs", "shipped_examples_dir", "shipped_mappings_dir"]


def shipped_mappings_dir() -> Path | None:
    """The shipped mappings folder on disk, or None when this install has none."""
    packaged = resources.files("utlegg_gateway").joinpath("mappings")
    # An installed wheel: package data beside the modules (always a real folder, since
    # the wheel is unpacked; a zip import would not be, and is not supported).
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    # A checkout (editable install or PYTHONPATH=src): src/utlegg_gateway -> repo root.
    package = resources.files("utlegg_gateway")
    if isinstance(package, Path):
        checkout = package.parent.parent / "mappings"
        if checkout.is_dir():
            return checkout
    return None


def shipped_examples_dir() -> Path:
    """The demo's example exports (CSV, XML and the PDFs they name); ConfigError if absent."""
    mappings = shipped_mappings_dir()
    if mappings is None or not (mappings / "examples").is_dir():
        raise ConfigError(
            "this installation has no shipped mappings/examples folder",
            hint="reinstall utlegg-gateway from its wheel or a checkout (pip install .)",
        )
    return mappings / "examples"


def mapping_search_dirs(configured: Iterable[Path]) -> tuple[Path, ...]:
    """`runner.mapping_dirs` as searched: the configured folders, then the shipped ones.

    A site's own mapping of the same name wins over the shipped one; a name no configured
    folder has falls back to the shipped mappings, so they work without configuration.
    """
    dirs = list(configured)
    shipped = shipped_mappings_dir()
    if shipped is not None and all(_differs(shipped, d) for d in dirs):
        dirs.append(shipped)
    return tuple(dirs)


def _differs(a: Path, b: Path) -> bool:
    try:
        return a.resolve() != b.resolve()
    except OSError:
        return True
