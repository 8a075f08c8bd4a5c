"""Run every benchmark script in turn (``make bench``); each writes its own benchmarks/results/*.md.

Long ones (full PPO training, the six-scenario table) take minutes to tens of minutes on the
2-core machine; pass names to run a subset: ``python benchmarks/run_all.py bench_eqwm bench_game``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("bench_run", "bench_eqwm", "bench_game", "bench_stable", "bench_game_sampling", "compare_allocations",
         "bench_explain", "bench_rl", "scenarios")


def main(names: list[str]) -> int:
    chosen = names or [n for n in ORDER if (HERE / f"{n}.py").exists()]
    failed = []
    for name in chosen:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        status = subprocess.call([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent)
        print(f"== {name}: exit {status} after {time.perf_counter() - start:.0f} s", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
