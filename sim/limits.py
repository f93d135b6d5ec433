"""What a run may take from the machine: worker processes and memory, decided before it starts.

The memory figures are measured peaks (maximum resident set size of ``rapport`` runs, one
process, 100,000 to 400,000 customers, Linux x86-64, Python 3.12) rounded up:

- a Python process with numpy, pandas, numba and Mesa loaded: about 350 MB;
- one run of one arm (the market, its no-contact holdout and the customers table built at
  the end): about 470 bytes per customer with 6 social ties, 950 with 50, i.e. about
  400 bytes plus 12 per tie;
- the parent keeps every arm's customers table of the first replication and writes it:
  about 250 bytes per customer per arm.
"""

from __future__ import annotations

import os
from pathlib import Path

from .params import ParameterError

PROCESS_BYTES = 400 * 2**20
RUN_BYTES_PER_CUSTOMER = 400
RUN_BYTES_PER_TIE = 12
TABLE_BYTES_PER_CUSTOMER = 250


def cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_bytes() -> int | None:
    """Memory that can be allocated now: the least of the kernel's MemAvailable and the
    room left under a cgroup limit; None when unknown (not Linux)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            if cap.isdigit() and int(cap) < 2**60:
                found.append(int(cap) - int(Path(usage).read_text().strip()))
        except (OSError, ValueError):
            continue
    return min(found) if found else None


def run_bytes(customers: int, ties: int) -> int:
    """Peak memory of one run of one arm (market, holdout, customers table)."""
    return customers * (RUN_BYTES_PER_CUSTOMER + RUN_BYTES_PER_TIE * ties)


def estimate_bytes(customers: int, ties: int, arms: int, workers: int) -> int:
    """Peak memory of an experiment: the parent process, ``workers`` runs at once (in worker
    processes when more than one) and the tables the parent gathers."""
    processes = 1 + (workers if workers > 1 else 0)
    return processes * PROCESS_BYTES + workers * run_bytes(customers, ties) + arms * customers * TABLE_BYTES_PER_CUSTOMER


def plan_workers(requested: int, tasks: int, customers: int, ties: int, arms: int,
                 available: int | None = None) -> int:
    """Worker processes for ``tasks`` runs: as requested (0 = one per core), but never more
    than the cores, the runs, or what fits in the memory available.

    Raises:
        ParameterError: even one run at a time would not fit in memory (one line).
    """
    workers = max(1, min(requested or cores(), cores(), tasks))
    available = available_bytes() if available is None else available
    if available is None:
        return workers
    while workers > 1 and estimate_bytes(customers, ties, arms, workers) > available:
        workers -= 1
    need = estimate_bytes(customers, ties, arms, workers)
    if need > available:
        raise ParameterError(f"market.customers={customers} with market.social_ties={ties} needs about "
                             f"{gib(need)} of memory, this machine has {gib(available)} available: "
                             f"lower market.customers or market.social_ties")
    return workers


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"
