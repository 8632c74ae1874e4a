"""Run one command and write its wall time, CPU time and peak RSS as JSON.

Why a launcher: a child's ``ru_maxrss`` keeps the high-water mark of the process image it was
forked from (Linux records the old image's peak at exec), so a command spawned straight from
the benchmark, which holds scanned wheels, would report the benchmark's own memory. Spawned
from this small interpreter (``python -S``, about 10 MB), it reports its own. The clock also
starts here, just before the spawn, not when the launcher starts.

Usage: python -S launch.py RESULT.json TIMEOUT_SECONDS COMMAND [ARGS...]
"""

import json
import os
import signal
import sys
import time


def main() -> None:
    result, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    started = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, dict(os.environ))

    def expire(_signum: int, _frame: object) -> None:
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    _pid, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    signal.setitimer(signal.ITIMER_REAL, 0)
    with open(result, "w", encoding="utf-8") as f:  # noqa: PTH123 (no pathlib under -S speed)
        json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                   "maxrss_kb": usage.ru_maxrss, "rc": os.waitstatus_to_exitcode(status),
                   "timed_out": wall >= timeout}, f)


if __name__ == "__main__":
    main()
