"""py-spy sampling of a bench fleet's processes, shared by the benchmarks' `--profile DIR`.

py-spy comes from the PATH, else through `uvx py-spy` (it is a tool, not a dependency of
Kopa). Each sampled process gets a flame graph (SVG) and its collapsed stacks (text) in DIR;
`top_frames` ranks the leaf frames of the latter by self time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def py_spy() -> list[str]:
    if shutil.which("py-spy"):
        return ["py-spy"]
    if shutil.which("uvx"):
        return ["uvx", "py-spy"]
    raise SystemExit("--profile needs py-spy: `uvx py-spy` or `pip install py-spy`")


def start_py_spy(
    state: Path, out: Path, seconds: int, names: tuple[str, ...]
) -> list[subprocess.Popen[bytes]]:
    """py-spy recording the fleet's processes `names` (their pid files under `state`) for
    `seconds`: a flame graph and the collapsed stacks of each, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    spy = py_spy()
    procs = []
    for name in names:
        pid = (state / "run" / f"{name}.pid").read_text().strip()
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
            command = [*spy, "record", "--pid", pid, "--duration", str(seconds)]
            # --gil: only samples holding the GIL, i.e. Python using CPU, not waiting.
            command += ["--rate", "250", "--nonblocking", "--gil", "--format", fmt]
            command += ["--output", str(out / f"{name}.{suffix}")]
            procs.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            )
    return procs


def top_frames(raw: Path) -> list[str]:
    """The leaf frames with the most samples, from py-spy's collapsed-stack output."""
    leaves: dict[str, int] = {}
    total = 0
    if not raw.exists():
        return ["(no samples: did py-spy attach? it needs ptrace)"]
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        leaf = stack.rsplit(";", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + n
    ranked = sorted(leaves.items(), key=lambda kv: -kv[1])
    return [f"{n / total * 100:5.1f}%  {leaf}" for leaf, n in ranked]


def print_top_frames(out: Path, names: tuple[str, ...], count: int = 15) -> None:
    for name in names:
        print(f"\n{name}: top frames (self time, % of samples)")
        for line in top_frames(out / f"{name}.txt")[:count]:
            print(f"  {line}")
