"""Instructions per design point, this working tree against a git revision: a comparison that
machine noise does not move.

Wall-clock rates on a shared 2-core machine vary by 10–15 % between runs of the same code, so
a change of a few per cent cannot be seen in them. ``valgrind --tool=callgrind`` counts the
instructions a process executes, the same from run to run. For each tree this script runs the
points once with ``--points`` and once with none (imports, loading the space and the first
point, which is left out of the count), under callgrind, and prints the difference per point
and the ratio of the two trees:

* ``explore``: the simulator alone on the points a random sampler picks from the default
  space (``explore_speed.py``'s points: a new chip every point, caches cold at the start;
  both runs draw all the points first, so the sampler is not counted);
* ``sweep``: the first points of ``bnnsim sweep``'s grid (the default space with two row and
  two column values) in its reuse order, where chips share kept work.

    python benchmarks/explore_instructions.py [--rev aedda76] [--what explore|sweep]
        [--network bnn-cifar10] [--points 24] [--start 0]

Needs valgrind (Debian's ``valgrind``) and git; a run takes minutes (callgrind runs Python
about 50 times slower).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the point loop, run in a child process whose ``sys.path`` starts with the tree measured
_LOOP = r"""
import inspect, os, sys, tempfile
from pathlib import Path
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
os.environ["BNNSIM_NO_PROGRESS"] = "1"
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
from explore_speed import _space
from explorer.space import load_space
from explorer.evaluate import Evaluator
what, network = sys.argv[2], sys.argv[3]
start, n, drawn = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
folder = Path(sys.argv[7])
if what == "sweep":
    from explorer.sweep import grid_points
    space = load_space(_space(folder, network, side=2))
    if "reuse" in inspect.signature(grid_points).parameters:
        points = list(grid_points(space, reuse=True))
    else:  # (a revision before the sweep's reuse order)
        points = list(grid_points(space))
else:
    from explorer.study import _suggest
    space = load_space(_space(folder, network))
    study = optuna.create_study(directions=["minimize"] * len(space.objectives),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    points = [_suggest(study.ask(), space) for _ in range(start + drawn + 1)]
evaluate = Evaluator(space, engine="analytical")
evaluate(points[start])
for p in points[start + 1:start + 1 + n]:
    evaluate(p)
"""


def _instructions(tree: Path, what: str, network: str, start: int, n: int, drawn: int) -> int:
    """Instructions callgrind counts for the loop over ``n`` of ``drawn`` points in ``tree``
    (run from ``tree``, so that its packages come first)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             "-c", _LOOP, str(tree), what, network, str(start), str(n), str(drawn), folder],
            env=env, capture_output=True, text=True, cwd=tree)
    found = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    if out.returncode or not found:
        said = [line for line in out.stderr.splitlines() if not line.startswith("==")]
        raise SystemExit(f"explore_instructions: the run in {tree} failed:\n"
                         + "\n".join(said[-12:] or ["(no output)"]))
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="HEAD", help="the git revision to compare with")
    parser.add_argument("--what", choices=("explore", "sweep"), default="explore")
    parser.add_argument("--network", default="bnn-cifar10")
    parser.add_argument("--points", type=int, default=24)
    parser.add_argument("--start", type=int, default=0, help="skip this many points first")
    args = parser.parse_args(argv)
    if args.points < 1 or args.start < 0:
        parser.error("--points must be at least 1 and --start at least 0")
    for tool in ("valgrind", "git"):
        if shutil.which(tool) is None:
            print(f"explore_instructions: needs {tool}, which is not installed",
                  file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "rev"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                               str(old), args.rev], capture_output=True, text=True)
        if made.returncode:
            print(f"explore_instructions: cannot check out {args.rev!r}: "
                  f"{made.stderr.strip()}", file=sys.stderr)
            return 2
        try:
            per_point = {}
            for label, tree in ((args.rev, old), ("working tree", ROOT)):
                base = _instructions(tree, args.what, args.network, args.start, 0,
                                     args.points)
                total = _instructions(tree, args.what, args.network, args.start, args.points,
                                      args.points)
                per_point[label] = (total - base) / args.points
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(old)], capture_output=True)
    print(f"{args.network}, {args.what}, {args.points} points from point {args.start}: "
          "instructions per point")
    for label, n in per_point.items():
        print(f"  {label:20s} {n / 1e6:10.2f} M")
    a, b = per_point[args.rev], per_point["working tree"]
    print(f"  working tree / {args.rev}: {b / a:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
