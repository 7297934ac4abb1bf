"""How many sending processes one host runs at once (``MAILING_MAX_PARALLEL``).

Cron starts one process per line; a thousand mailings due at 09:00 would be a
thousand processes at once. A process that wants to send first takes one of
the host's slots, a lock file held for as long as it sends. A process that
finds every slot taken leaves a note naming its mailing (``leave``) and exits
at once, before it has loaded even the database driver; running senders take
the notes up in turn (``take_left``) and run those mailings as cron would have.

A note rather than a row in the database: reaching the database costs a
process its driver, about 25 MB, and a thousand of them at 09:00 is exactly the
crowd this is for; a bare interpreter writing a file costs a third of that. No
send is lost with a note: the run that takes it up claims the occurrence in the
database as usual, other hosts' lines for the same mailing fire anyway, and a
host that died with notes left finds them on its disk (the per-minute sync line
takes them up when no sender is running).

Lock files for the slots because the limit is the host's own memory: the
kernel drops a lock the moment its holder dies, even by SIGKILL, so a slot is
never lost. Nothing here imports the app.
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

    def leave(self, mailing_id: int) -> None:
        """Leave the mailing's run to the running senders (a file named by its id alone)."""
        waiting = self._waiting()
        waiting.mkdir(parents=True, exist_ok=True)
        (waiting / str(int(mailing_id))).touch()

    def left(self) -> bool:
        """Whether a run waits for a sender."""
        waiting = self._waiting()
        return waiting.is_dir() and any(name.isdigit() for name in os.listdir(waiting))

    def take_left(self) -> int | None:
        """A mailing left for a sender, now this process's to run (its note gone, so two
        senders never run the same note); None when none is left. One at a time, so every
        sender of a crowded host takes its share."""
        waiting = self._waiting()
        if not waiting.is_dir():
            return None
        for mailing_id in sorted(int(name) for name in os.listdir(waiting) if name.isdigit()):
            try:
                os.unlink(waiting / str(mailing_id))
            except FileNotFoundError:  # another sender took it
                continue
            return mailing_id
        return None

    def _waiting(self) -> Path:
        return self.directory / f"{self.instance}-waiting"

    def release(self) -> None:
        if self._held is not None:
            os.close(self._held)  # closing the descriptor drops the lock
            self._held = None

    def __enter__(self) -> Slots:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
