"""Progress on a terminal: one rich bar per file with cases done/total."""

from __future__ import annotations

from typing import Any

__all__ = ["RichProgress"]


class RichProgress:
    """One rich progress bar per file with cases done/total (only when stderr is a TTY)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def _task(self, name: str) -> Any:
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=None, state="")
        return self._tasks[name]

    def file_started(self, name: str) -> None:
        """A bar for the file."""
        self._task(name)

    def cases_found(self, name: str, total: int) -> None:
        """Mapping found `total` cases so far."""
        self._progress.update(self._task(name), total=total)

    def case_finished(self, name: str) -> None:
        """One more case ended."""
        self._progress.advance(self._task(name))

    def file_finished(self, name: str, state: str) -> None:
        """The file ended in `state`."""
        self._progress.update(self._task(name), state=state)
