"""What a run may take from the machine: worker processes and memory, decided before it starts.

The memory figures are measured peaks (maximum resident set size of ``rapport`` runs, one
process, 100,000 to 400,000 customers, Linux x86-64, Python 3.12), rounded up so that the
estimate stays above the measure (``tests/test_faults.py`` checks it on a real run):

- a Python process with numpy, pandas, numba and Mesa loaded: about 350 MB;
- one run of one arm (the market, its no-contact holdout and the customers table built at
  the end): about 470 bytes per customer with 6 social ties, 950 with 50, i.e. about
  400 bytes plus 11 per tie;
- the parent keeps every arm's customers table of the first replication and writes it:
  about 220 bytes per customer per arm.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from .params import ParameterError

PROCESS_BYTES = 400 * 2**20
RUN_BYTES_PER_CUSTOMER = 450
RUN_BYTES_PER_TIE = 12
TABLE_BYTES_PER_CUSTOMER = 250


class EnvironmentFault(ParameterError):
    """The machine, not the input, stops the run: too little memory, a folder that cannot be
    written, a full disk. One line like every ParameterError, but the command exits with 1."""


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


# Below this much work (customer-weeks, holdouts included) ``workers=0`` means one process:
# starting worker processes (each imports Rapport and loads the compiled kernels, about a
# second, more on a loaded machine) would cost more than it saves; the kernels still use
# every core through their own threads.
SMALL_WORK = 20_000_000


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
        raise EnvironmentFault(f"market.customers={customers} with market.social_ties={ties} needs about "
                             f"{gib(need)} of memory, this machine has {gib(available)} available: "
                             f"lower market.customers or market.social_ties")
    return workers


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_output_dir(folder: str, key: str = "results_dir") -> None:
    """Refuse, before anything is written, a results folder that is empty, not a folder, or
    on a read-only or unwritable file system (the nearest existing parent is checked).

    Raises:
        ParameterError: the value is wrong (empty, a file).
        EnvironmentFault: the folder cannot be written.
    """
    if not str(folder).strip():
        raise ParameterError(f"{key}='': expected a folder, e.g. {key}=results")
    path = Path(folder).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ParameterError(f"{key}={folder}: {existing} is not a folder; choose a folder for the results")
    read_only = hasattr(os, "statvfs") and os.statvfs(existing).f_flag & os.ST_RDONLY
    if read_only or not os.access(existing, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if read_only else "is not writable"
        raise EnvironmentFault(f"{key}={folder}: {existing} {why}; choose a writable folder")


def fault_line(err: OSError, doing: str) -> str:
    """An operating-system error while ``doing`` something, as one line with what to do."""
    advice = {errno.ENOSPC: "free some disk space and run again",
              errno.EDQUOT: "free some disk space and run again",
              errno.EROFS: "choose a writable results_dir",
              errno.EACCES: "choose a writable results_dir",
              errno.EPERM: "choose a writable results_dir"}.get(err.errno, "check the folder and run again")
    where = f" ({err.filename})" if err.filename else ""
    return f"{doing}: {err.strerror or err}{where}; {advice}"


INTERRUPTED = "rapport: interrupted; unfinished results stay in folders named *.incomplete"
STOP_GRACE = 20.0  # seconds a Ctrl-C's clean stop may take before the process ends regardless
_said_interrupted = threading.Event()


def say_interrupted() -> None:
    """Print the one line of a Ctrl-C, once (the watchdog and the clean stop may both try)."""
    if not _said_interrupted.is_set():
        _said_interrupted.set()
        print(INTERRUPTED, file=sys.stderr, flush=True)


def _end_now() -> None:
    say_interrupted()
    os._exit(1)  # worker processes end with this one (worker_init)


@contextmanager
def ctrl_c_stops_within(grace: float = STOP_GRACE, after: bool = True):
    """Ctrl-C raises KeyboardInterrupt as usual, and also starts a watchdog: if the process is
    still there ``grace`` seconds later, because a clean-up blocked (a worker pool's lock, a
    thread that will not join; seen once in a loaded test run, cause not found), it prints the
    interrupted line and ends at once (exit 1), leaving unfinished results as they are
    (``*.incomplete``). With ``after`` the watchdog outlives the block, for a process that is
    ending (the console command); without, it is cancelled when the block ends (a call from
    Python). Only in the main thread, and only where nobody set their own Ctrl-C handler."""
    _said_interrupted.clear()
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    watchdogs: list[threading.Timer] = []

    def on_ctrl_c(signum: int, frame: object) -> None:
        if not watchdogs:
            watchdogs.append(threading.Timer(grace, _end_now))
            watchdogs[0].daemon = True
            watchdogs[0].start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if watchdogs and not after:
            watchdogs[0].cancel()


def end_quickly() -> None:
    """For a process that ends next: keep Python's last garbage collection off the objects
    alive now (``gc.freeze``). It walked every object of the loaded model and kernels, about
    0.6 s of every command; files, logs and atexit handlers are closed as before."""
    gc.freeze()


@contextmanager
def ctrl_c_to_parent_only():
    """Ignore Ctrl-C while worker processes start, so that they start ignoring it (an ignored
    signal stays ignored in a child) instead of dying with a traceback mid-import."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def worker_init(parent: int) -> None:
    """Initializer of a worker process: it ends when its parent ``parent`` dies, even by
    SIGKILL (Linux ``PR_SET_PDEATHSIG``), and leaves Ctrl-C to the parent, which stops the
    workers itself. A worker whose parent died before this ran ends at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def loky_workers_die_with_parent() -> None:
    """Give joblib's process workers (Hydra's joblib launcher) the same ``worker_init``: the
    launcher asks joblib for its "loky" backend by name, so that name is registered again
    with the initializer set."""
    try:
        from joblib import register_parallel_backend
        from joblib.parallel import LokyBackend
    except ImportError:
        return

    class LokyWorkersDieWithParent(LokyBackend):
        def __init__(self, nesting_level=None, inner_max_num_threads=None, **kwargs):
            kwargs.setdefault("initializer", worker_init)
            kwargs.setdefault("initargs", (os.getpid(),))
            super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **kwargs)

    register_parallel_backend("loky", LokyWorkersDieWithParent)
