"""Typed settings: YAML file + environment overrides, validated once at start.

The `Settings` object is built once by the CLI (`load_settings`) and passed down; no
module reads configuration or the environment on its own.

Environment overrides use `UTLEGG_GATEWAY__` plus the path in upper case, joined by
double underscores: `UTLEGG_GATEWAY__ENVIRONMENT=prod`,
`UTLEGG_GATEWAY__ELAN__MAX_CONCURRENCY=3`. Values are parsed as YAML scalars.

Secrets never live in the YAML: a secret field is given as `*_file` (a path) or
`*_env` (the name of an environment variable), and `Secret.read()` fetches it when needed.
Relative paths are resolved against the folder of the configuration file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from utlegg_gateway.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "ConfigPath",
    "Environment",
    "ModelVersion",
    "Secret",
    "Settings",
    "load_settings",
]

Environment = Literal["test", "prod"]
ModelVersion = Literal["1.1", "2.0"]

ENV_PREFIX = "UTLEGG_GATEWAY__"
DEFAULT_ENVIRONMENT: Environment = "test"
DEFAULT_MODEL_VERSION: ModelVersion = "2.0"


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    value = value.expanduser()
    if value.is_absolute() or base is None:
        return value
    return Path(base) / value


# A path in the configuration: relative paths are taken from the config file's folder.
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]


class _Section(BaseModel):
    """Base of every settings section: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Section):
    """A secret given by file path or environment variable name, never inline."""

    file: ConfigPath | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of 'file' (a path) or 'env' (a variable name)")
        return self

    def read(self) -> str:
        """Fetch the secret now; raises ConfigError naming where it looked."""
        if self.file is not None:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {self.file}: {exc.strerror}") from exc
        assert self.env is not None
        value = os.environ.get(self.env)
        if value is None:
            raise ConfigError(f"environment variable {self.env} (a secret) is not set")
        return value


class Settings(_Section):
    """The whole configuration. Sections are filled in by the stages that own them."""

    environment: Environment = DEFAULT_ENVIRONMENT
    model_version: ModelVersion = DEFAULT_MODEL_VERSION
    # The organisation the gateway acts as (innsender orgnr): 9 digits.
    organisation: str | None = Field(default=None, pattern=r"^\d{9}$")
    # Sections owned by later stages are added below as they are built
    # (maskinporten, elan, journal, inboxes, outbox, archive, followup, health).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw else raw
    return data


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from a YAML file, the environment and CLI overrides, in that order."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration {path} must be a mapping at the top level")
        data = loaded or {}
        base_dir = path.resolve().parent
    data = _apply_env_overrides(data, environ)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    data["base_dir"] = base_dir
    try:
        settings = Settings.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from exc
    return settings
