"""What every command shares: error-to-exit-code mapping and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from utlegg_gateway.config import Settings, load_settings
from utlegg_gateway.errors import GatewayError
from utlegg_gateway.model import DEFAULT_MODEL_VERSION, SPECS

__all__ = [
    "LOG_LEVELS",
    "config_option",
    "environment_option",
    "handle_errors",
    "load",
    "log_level_option",
    "model_version_option",
    "setup_logging",
]

P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Map GatewayError to `Error: [code] message` on stderr and the class's exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GatewayError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file (YAML). Environment overrides: UTLEGG_GATEWAY__SECTION__KEY.",
)
environment_option = click.option(
    "--environment",
    type=click.Choice(["test", "prod"]),
    default=None,
    help="Overrides the configured environment (default: test).",
)
model_version_option = click.option(
    "--model-version",
    type=click.Choice(sorted(SPECS)),
    default=None,
    help=f"ELAN model version (default: {DEFAULT_MODEL_VERSION}, the newest published model).",
)


# The levels `--log-level` takes; anything else is a usage error (exit 2), not a traceback.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log_level_option = click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Least severe log level shown (logs go to stderr; masked).",
)


def setup_logging(level: str, console: Any = None) -> None:
    """The masked handler at `level`: JSON lines off a terminal (cron, journald, docker);
    on one, through `console` when given (so lines stay above a Live display)."""
    from utlegg_gateway._logging import configure_logging

    configure_logging(json_lines=not sys.stderr.isatty(), level=level.upper(), console=console)


def load(config_path: Path | None, **overrides: Any) -> Settings:
    """Build the settings once, with command-line overrides applied last."""
    return load_settings(config_path, overrides=overrides)
