"""`grouping: adjacent`: a sorted CSV export streams its cases as the key changes.

Same cases as the default grouping for a file that keeps the promise; a key that comes back
refuses the file at its line; the encoding is settled before the first case comes out.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from utlegg_gateway.errors import SourceError
from utlegg_gateway.mapping import CaseResult, build_file, load_mapping
from utlegg_gateway.mapping.sources._csv import CsvCase, read_csv_cases
from utlegg_gateway.mapping.spec import MappingSpec

from .conftest import REPO, SAMPLES, write_mapping

SAMPLE = SAMPLES / "csv-krav" / "utlegg_20251001_020000.csv"
KRAV = REPO / "mappings" / "csv-krav.yaml"


def _adjacent_spec(folder: Path) -> MappingSpec:
    """mappings/csv-krav.yaml with `grouping: adjacent` set on its source."""
    text = KRAV.read_text(encoding="utf-8")
    assert text.count("  header: true\n") == 1
    text = text.replace("  header: true\n", "  header: true\n  grouping: adjacent\n")
    return load_mapping(write_mapping(folder, text, "csv-krav-adjacent.yaml"))


def _sorted_export(path: Path, cases: int, *, broken: bool = False) -> list[str]:
    """The sample's cases renumbered `cases` times, each case's rows together (cp1252).

    With `broken`, a row of the third copy has a field too many and the first case of the
    fifth copy has a row without a key among its rows. Returns the case keys in file order.
    """
    with SAMPLE.open(encoding="cp1252", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter=";"))
    saksnr = header.index("SAKSNR")
    rows.sort(key=lambda r: r[saksnr])  # stable: a case's rows keep their order
    out: list[list[str]] = []
    keys: list[str] = []
    for n in range(cases):
        block = [[f"{r[saksnr]}-{n:03d}", *r[saksnr + 1 :]] for r in rows]
        for r in block:
            if not keys or keys[-1] != r[0]:
                keys.append(r[0])
        if broken and n == 2:
            block[1] = [*block[1], "extra"]
        if broken and n == 4:
            block.insert(1, ["", *block[0][1:]])
        out.extend(block)
    with path.open("w", encoding="cp1252", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(out)
    return keys


def _cases(cases: list[CsvCase]) -> list[tuple[object, ...]]:
    return [(c.key, c.rows, c.problems, c.key_missing) for c in cases]


def _summary(results: list[CaseResult]) -> list[tuple[object, ...]]:
    return [
        (r.key, r.ok, r.begjaering, r.source, [(e.code, e.message, e.source) for e in r.errors])
        for r in results
    ]


def test_an_adjacent_file_gives_the_same_cases_as_the_default(tmp_path: Path) -> None:
    """Keys, rows, order, row problems and keyless rows; and the begjæringer built."""
    default, adjacent = load_mapping(KRAV), _adjacent_spec(tmp_path)
    assert default.source.grouping == "any"  # type: ignore[union-attr]
    export = tmp_path / "utlegg_sorted.csv"
    keys = _sorted_export(export, 8, broken=True)
    streamed = list(read_csv_cases(export, adjacent))
    assert _cases(streamed) == _cases(list(read_csv_cases(export, default)))
    assert [c.key for c in streamed if not c.key_missing] == keys
    assert any(c.problems for c in streamed), "the field too many is a row problem"
    (keyless,) = [c for c in streamed if c.key_missing]
    # The keyless row among the rows of keys[8] comes out as its own case right after it.
    assert streamed[streamed.index(keyless) - 1].key == keys[8]
    assert _summary(list(build_file(export, adjacent))) == _summary(
        list(build_file(export, default))
    )


def test_a_key_that_comes_back_refuses_the_file_after_the_earlier_cases(tmp_path: Path) -> None:
    spec = load_mapping(
        write_mapping(
            tmp_path,
            """
            source: {kind: csv, delimiter: ";", grouping: adjacent}
            case: {key: {col: SAK}}
            template:
              navn: {col: NAVN}
            """,
        )
    )
    export = tmp_path / "in.csv"
    export.write_text("SAK;NAVN\nA;a1\nA;a2\nB;b1\nC;c1\nB;b2\nD;d1\n", encoding="utf-8")
    cases = read_csv_cases(export, spec)
    taken = []
    with pytest.raises(SourceError) as caught:
        for case in cases:
            taken.append(case.key)
    # C ended only where the promise broke, so it is not let out as if complete.
    assert taken == ["A", "B"]
    error = caught.value
    assert error.file == str(export)
    assert error.row == 6
    assert "rows of case B at line 6 are not next to its earlier rows (line 4)" in str(error)
    assert "grouping: adjacent" in str(error)
    assert "grouping: adjacent" in (error.hint or "")
    # The default grouping reads the same file as it always has.
    any_spec = load_mapping(write_mapping(tmp_path, _without_grouping(tmp_path), "any.yaml"))
    assert [c.key for c in read_csv_cases(export, any_spec)] == ["A", "B", "C", "D"]


def _without_grouping(folder: Path) -> str:
    return (folder / "m.yaml").read_text(encoding="utf-8").replace(", grouping: adjacent", "")


def _read_position(path: Path) -> int:
    """Where this process's one open handle on `path` has read to (Linux /proc)."""
    positions = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if fd.readlink() == path:
                info = Path("/proc/self/fdinfo", fd.name).read_text()
                positions.append(int(info.split("pos:")[1].split()[0]))
        except OSError:
            continue  # the fd listdir itself used, closed by now
    (position,) = positions
    return position


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs Linux /proc")
def test_the_first_case_comes_out_before_the_file_is_read(tmp_path: Path) -> None:
    """The reader's position when the first case is out, and a tail changed after it."""
    spec = _adjacent_spec(tmp_path)
    export = tmp_path / "utlegg_big.csv"
    keys = _sorted_export(export, 400)
    size = export.stat().st_size
    cases = read_csv_cases(export, spec)
    first = next(cases)
    assert first.key == keys[0]
    assert _read_position(export) < size / 10
    # The last case's key changed to the first's after the first case was taken: only a
    # reader that has not yet parsed the tail finds the broken promise there.
    data = export.read_bytes()
    last_row = data.rindex(keys[-1].encode())
    assert len(keys[0]) == len(keys[-1])
    export.write_bytes(data[:last_row] + keys[0].encode() + data[last_row + len(keys[0]) :])
    with pytest.raises(SourceError, match=f"rows of case {keys[0]} at line"):
        for _ in cases:
            pass
    # The default grouping reads to the end before its first case: that row is in it.
    default_first = next(read_csv_cases(export, load_mapping(KRAV)))
    assert default_first.key == keys[0]
    assert len(default_first.rows) == len(first.rows) + 1


def _fallback_spec(folder: Path, encodings: str) -> MappingSpec:
    return load_mapping(
        write_mapping(
            folder,
            f"""
            source: {{kind: csv, delimiter: ";", encodings: {encodings}, grouping: adjacent}}
            case: {{key: {{col: SAK}}}}
            template:
              navn: {{col: NAVN}}
            """,
        )
    )


def test_the_fallback_encoding_decodes_the_first_cases_too(tmp_path: Path) -> None:
    """A byte only the second encoding reads, late: the first case is in that encoding."""
    export = tmp_path / "in.csv"
    # 0x9B is `›` in cp1252 and `ø` in cp865; 0x81 (last line) is not cp1252 at all.
    rows = [b"SAK;NAVN", b"S1;Tr\x9bnder"] + [b"S%d;navn" % n for n in range(2, 2000)]
    export.write_bytes(b"\r\n".join([*rows, b"S2000;M\x81ller"]) + b"\r\n")
    spec = _fallback_spec(tmp_path, "[cp1252, cp865]")
    cases = read_csv_cases(export, spec)
    first = next(cases)
    assert first.rows[0].values == ("S1", "Trønder")
    assert [c.rows[0].values[1] for c in cases][-1] == "Müller"


def test_a_cp1252_file_with_its_non_ascii_late_is_read_as_cp1252(tmp_path: Path) -> None:
    """The usual utf-8, cp1252 pair: ASCII first cases, Windows-1252 in the last one."""
    export = tmp_path / "in.csv"
    rows = [b"SAK;NAVN"] + [b"S%d;navn" % n for n in range(1, 2000)] + [b"S2000;Kols\xe5s"]
    export.write_bytes(b"\r\n".join(rows) + b"\r\n")
    spec = _fallback_spec(tmp_path, "[utf-8, cp1252]")
    cases = list(read_csv_cases(export, spec))
    assert len(cases) == 2000
    assert cases[-1].rows[0].values == ("S2000", "Kolsås")


def test_a_file_mixing_encodings_is_refused_before_its_first_case(tmp_path: Path) -> None:
    """UTF-8 `ø` first, a Windows-1252 `å` late: no case comes out, as with the default."""
    export = tmp_path / "in.csv"
    rows = [b"SAK;NAVN", "S1;Trønder".encode()] + [b"S%d;navn" % n for n in range(2, 2000)]
    export.write_bytes(b"\r\n".join([*rows, b"S2000;Kols\xe5s"]) + b"\r\n")
    spec = _fallback_spec(tmp_path, "[utf-8, cp1252]")
    cases = read_csv_cases(export, spec)
    with pytest.raises(SourceError, match="the file mixes encodings") as caught:
        next(cases)
    assert caught.value.row == 2001
