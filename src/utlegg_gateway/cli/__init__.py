"""The command line: a thin shell. Each command parses, builds settings, calls one library function.

Commands live in one private module each (`_validate.py`, `_map.py`, …) and are loaded
lazily, so `utlegg-gateway --help` stays fast and a broken optional part cannot stop the
others. Errors are turned into exit codes in exactly one place: `_common.handle_errors`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from utlegg_gateway import __version__

__all__ = ["main"]

# command name -> "module:attribute" (module relative to this package)
_COMMANDS: dict[str, str] = {
    "validate": "._validate:validate",
    "map": "._map:map_command",
    "mapping": "._mapping:mapping",
    "token": "._token:token",
    "submit": "._submit:submit",
    "once": "._run:once",
    "run": "._run:run",
    "status": "._status:status",
    "replay": "._replay:replay",
    "demo": "._demo:demo",
    "sandbox": "._sandbox:sandbox",
    "followup": "._followup:followup",
    "schemas": "._schemas:schemas",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name, __name__)
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="utlegg-gateway")
def main(**_: Any) -> None:
    """utlegg-gateway: legacy export files in, ELAN utleggsbegjæringer out.

    Exit codes: 0 ok; 1 case errors (findings, rejected or failed cases);
    2 cannot run (configuration, usage, unreadable input); 3 another run holds the lock.
    """
    # Every command logs through the masking handler; `run`/`once` raise the level later.
    from utlegg_gateway._logging import configure_logging

    configure_logging(json_lines=not sys.stderr.isatty(), level="WARNING")
