"""Peak RSS of a command, measured so that the caller's own peak does not count.

Linux keeps a process's peak RSS across `exec`: the child starts with the high-water
mark of the memory image it replaced, which after `fork`/`vfork` is its parent's. A
benchmark that built a 40,000-case file in memory and then read the `once` child's
`ru_maxrss` with `wait4` got the benchmark's peak, not the child's (330 MB reported,
136 MB sampled from `/proc` while it ran). So the command is started from a fresh,
small launcher interpreter, whose image is what the child inherits (~10 MB), and the
launcher also samples the child's `VmRSS` from `/proc` while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# Runs in its own interpreter: argv = [report path, sample seconds, command...].
_LAUNCHER = r"""
import json, os, subprocess, sys, time
report, every, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.monotonic()
child = subprocess.Popen(cmd)
samples, tree_kb = [], 0

def rss(pid):
    with open(f"/proc/{pid}/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:"))

def descendants(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(c) for c in fh.read().split()]
    except OSError:
        return []
    return found + [d for c in found for d in descendants(c)]

while True:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        break
    try:
        kb = rss(child.pid)
        samples.append((round(time.monotonic() - start, 2), kb))
    except (OSError, StopIteration, ValueError):
        pass  # between exit and reaping
    total = 0
    for each in [child.pid, *descendants(child.pid)]:
        try:
            total += rss(each)
        except (OSError, StopIteration, ValueError):
            pass
    tree_kb = max(tree_kb, total)
    time.sleep(every)
with open(report, "w") as fh:
    json.dump({"maxrss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status),
               "seconds": time.monotonic() - start, "samples": samples,
               "tree_kb": tree_kb}, fh)
"""


@dataclass(frozen=True)
class Measured:
    """One command's peak RSS, exit code, wall time and its RSS sampled while it ran."""

    peak_mb: float
    code: int
    seconds: float
    samples: list[tuple[float, float]]  # (seconds since start, RSS MB)
    # The largest sum of RSS over the command and its descendants (worker processes) seen
    # at one sample; `peak_mb` is one process's peak (the command's or a waited child's).
    tree_peak_mb: float = 0.0

    def rss_at(self, fraction: float) -> float:
        """The sampled RSS (MB) nearest to `fraction` of the run's wall time."""
        if not self.samples:
            return 0.0
        at = fraction * self.seconds
        return min(self.samples, key=lambda s: abs(s[0] - at))[1]


def run_measured(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    stderr: int | IO[bytes] | None = subprocess.DEVNULL,
    sample_seconds: float = 1.0,
) -> Measured:
    """Run `cmd` to its end through the launcher; its output goes to `stdout`/`stderr`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), str(sample_seconds), *cmd],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            check=True,
        )
        data = json.loads(report.read_text("utf-8"))
    return Measured(
        peak_mb=data["maxrss_kb"] / 1024,
        code=data["code"],
        seconds=data["seconds"],
        samples=[(t, kb / 1024) for t, kb in data["samples"]],
        tree_peak_mb=data["tree_kb"] / 1024,
    )


def inherited_peak_mb(cmd: list[str]) -> float:
    """`ru_maxrss` of `cmd` started straight from this process (what the old benchmarks read)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


if __name__ == "__main__":
    # The effect itself: this process touches 300 MB, then measures a bare interpreter.
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))
    bare = [sys.executable, "-c", "pass"]
    print(f"bare interpreter, wait4 from a 300 MB parent: {inherited_peak_mb(bare):.0f} MB")
    print(f"bare interpreter, through the launcher:       {run_measured(bare).peak_mb:.0f} MB")
