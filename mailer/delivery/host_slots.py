"""How many sending processes one host runs at once (``MAILING_MAX_PARALLEL``).

Cron starts one process per line; a thousand mailings due at 09:00 would be a
thousand processes at once. A process that wants to send first takes one of
the host's slots, a lock file held for as long as it sends; a process that
finds every slot taken hands its occurrence to the database and exits, and
running workers pick it up when they are done with their own (engine.serve_waiting).

Lock files rather than database rows because the limit is the host's own
memory: the kernel drops a lock the moment its holder dies, even by SIGKILL,
so a slot is never lost. Nothing here imports the app (the cron script's quick
path uses it).
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["Slots", "default_parallel"]

# What one sending process may take (bench/crowded_minute.py measures the real figure).
PROCESS_BUDGET_BYTES = 64 * 1024 * 1024


def default_parallel() -> int:
    """Four senders per core (they mostly wait on the mail server), at most as many as half
    the memory available holds, at least one."""
    by_cores = 4 * (os.cpu_count() or 1)
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return by_cores
    return max(1, min(by_cores, available // 2 // PROCESS_BUDGET_BYTES))


class Slots:
    """The host's ``count`` sending slots for one install (``instance``), as lock files in
    ``directory``."""

    def __init__(self, directory: str | os.PathLike, instance: str, count: int) -> None:
        self.directory, self.instance, self.count = Path(directory), instance, count
        self._held: int | None = None

    def take(self) -> bool:
        """Take a free slot without waiting; whether one was free (True if already held)."""
        if self._held is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        for number in range(self.count):
            fd = os.open(self.directory / f"{self.instance}-send-{number}.lock",
                         os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._held = fd
            return True
        return False

    def release(self) -> None:
        if self._held is not None:
            os.close(self._held)  # closing the descriptor drops the lock
            self._held = None

    def __enter__(self) -> Slots:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
