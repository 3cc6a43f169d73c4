"""JSON pointers (RFC 6901) into a payload, and matching of "*"-patterns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["expand", "pointer", "sort_key"]


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


# The ABC isinstance checks below are slow in the hot path; these exact JSON types
# answer them directly (a plain dict, list or leaf is never anything else).
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _is_mapping(node: Any) -> bool:
    kind = type(node)
    return kind is dict or (kind is not list and kind not in _LEAVES and isinstance(node, Mapping))


def _is_array(node: Any) -> bool:
    """A Sequence that is not a string."""
    kind = type(node)
    if kind is list:
        return True
    if kind is dict or kind in _LEAVES:
        return False
    return isinstance(node, Sequence) and not isinstance(node, str)


def pointer(*parts: str | int) -> str:
    """The JSON pointer of a path: `pointer("a", 0, "b")` -> "/a/0/b"; no parts -> ""."""
    out = []
    for part in parts:
        # Fast for the usual parts: a list index, a plain key without "~" or "/".
        if type(part) is int or (type(part) is str and "~" not in part and "/" not in part):
            out.append(f"/{part}")
        else:
            out.append("/" + _escape(part))
    return "".join(out)


def sort_key(ptr: str) -> tuple[tuple[int, int, str], ...]:
    """Orders pointers as a reader expects: list index 2 before 10."""
    if not ptr:
        return ()
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in ptr[1:].split("/"))


def expand(doc: Any, pattern: str) -> Iterator[tuple[str, Any, bool]]:
    """Each concrete (pointer, parent, present) for a "*"-pattern's last key.

    Walks the existing structure; `parent` is the object (or, for a final "*", the
    list) that holds or should hold the last key, and `present` tells whether it does.
    """
    parts = pattern[1:].split("/")

    def walk(node: Any, i: int, path: tuple[str | int, ...]) -> Iterator[tuple[str, Any, bool]]:
        part = parts[i]
        if i == len(parts) - 1:
            if part != "*" and _is_mapping(node):
                yield pointer(*path, part), node, part in node
            elif part == "*" and isinstance(node, list):
                for j in range(len(node)):
                    yield pointer(*path, j), node, True
            return
        if part == "*":
            if _is_array(node):
                for j, child in enumerate(node):
                    yield from walk(child, i + 1, (*path, j))
        elif _is_mapping(node) and part in node:
            yield from walk(node[part], i + 1, (*path, part))

    yield from walk(doc, 0, ())
