"""The crontab as text, and what goes in it: the cron side of the TaskManager.

Each mailing that must send has one crontab line and one generated script:

    M H * * DOW  <python> <scripts>/<id>_script.py >> <log> 2>&1 # mailer:<instance>:<id>

The line is found again by its tag, so this instance only ever changes its own
lines; every other line of the crontab (other instances, other programs, the
user's comments and variables) is written back byte for byte. That is why the
crontab is edited as text here rather than re-rendered by python-crontab,
which normalises spacing, moves variables and comments out lines it cannot
parse. What is written still parses as an ordinary python-crontab job (the
dev runner reads it that way).

The schedule is in the server's local time (cron's), taken from the mailing's
next occurrence. A daily, weekly or monthly line keeps firing at that server
time; when a DST change (in the mailing's zone or the server's) or a clamped
month moves the next occurrence, the run rewrites the line (``TaskManager.save``)
and ``flask cron sync`` rebuilds them all.

Every edit reads the crontab once and writes it once (only if it changed),
under an exclusive lock (``editing``), so concurrent web requests and cron runs
never lose each other's lines. Which mailings get a line, and when, is
``task_manager.TaskManager``'s business; nothing here reads the database.

Two lines are no mailing's: ``bounces`` (the bounce mailbox, while one is set) and
``sync`` (every minute: this host brings its own crontab in step with the database,
``sync_entry``). And an edit refuses (``CronClash``) when lines of this instance call
scripts in a folder other than this install's that exists: a second install with the
same ``MAILER_INSTANCE`` writes this crontab, and the two would overwrite each other.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from mailer import schedule

__all__ = [
    "CronClash",
    "CronConfig",
    "CronError",
    "Crontab",
    "SYNC",
    "cron_line",
    "cron_spec",
    "editing",
    "ensure_log_dir",
    "locked",
    "put_or_drop",
    "read_text",
    "script_ids",
    "script_text",
    "this_machine",
    "valid_id",
    "write_script",
]

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 10.0
_INSTANCE_RE = re.compile(r"[A-Za-z0-9_.-]+")
_TAG_RE = re.compile(r"\s#\s*mailer:(?P<instance>[^\s:]+):(?P<id>[0-9]+|bounces|sync)\s*$")
# The keys of the lines that are no mailing's: `flask bounces fetch`, every few minutes, and
# this host's sync with the database, every minute (a host with no mailing must still learn
# of a new one).
BOUNCES = "bounces"
SYNC = "sync"
SYNC_SPEC = "* * * * *"
_SCRIPT_RE = re.compile(r"([0-9]+)_script\.py")


class CronError(RuntimeError):
    """The crontab could not be read or written; the message says which and why."""


class CronClash(CronError):
    """Another install with this MAILER_INSTANCE writes the same crontab; nothing was changed."""


@dataclass(frozen=True)
class CronConfig:
    """Where the lines and scripts go. Paths are absolute; nothing here is a secret."""

    crontab_file: str | None  # None: the current user's crontab (production)
    instance: str
    python: str
    project_root: str
    scripts_dir: str
    log_file: str
    env_file: str | None
    home: str = ""  # MAILER_HOME: read at import, before any env file, so the script sets it
    # Minutes between two reads of the bounce mailbox; None: no mailbox, no line.
    bounce_fetch_minutes: int | None = None

    def __post_init__(self) -> None:
        if not _INSTANCE_RE.fullmatch(self.instance or ""):
            raise ValueError(
                f"MAILER_INSTANCE must be letters, digits, '.', '_' or '-', got {self.instance!r}"
            )
        for name in ("crontab_file", "python", "project_root", "scripts_dir", "log_file",
                     "env_file", "home"):
            value = getattr(self, name)
            if value is not None and ("\n" in value or "\r" in value or "\0" in value):
                raise ValueError(f"{name} must not contain line breaks: {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str | os.PathLike | None = None
                    ) -> CronConfig:
        """From a Flask config (or ``settings_from_env()``); missing keys take the defaults."""
        from mailer import config as settings

        root = config.get("PROJECT_ROOT") or settings.PROJECT_ROOT
        instance_path = instance_path or config.get("INSTANCE_PATH") or settings.INSTANCE_PATH
        if "MAILER_ENV_FILE" in config:
            env_file = config["MAILER_ENV_FILE"] or None
        else:
            env_file = settings.env_file_path()
        crontab_file = config.get("CRONTAB_FILE") or None
        return cls(
            crontab_file=_absolute(crontab_file) if crontab_file else None,
            instance=config.get("MAILER_INSTANCE") or "default",
            python=_absolute(config.get("CRON_PYTHON") or sys.executable),
            project_root=_absolute(root),
            scripts_dir=_absolute(config.get("SCRIPTS_DIR") or settings.MAILER_HOME / "scripts"),
            log_file=_absolute(config.get("CRON_LOG") or Path(instance_path) / "logs" / "cron.log"),
            env_file=_absolute(env_file) if env_file else None,
            home=_absolute(settings.MAILER_HOME),
            bounce_fetch_minutes=(config.get("BOUNCE_FETCH_MINUTES") or 5)
            if config.get("BOUNCE_MAILBOX_HOST") else None,
        )

    @classmethod
    def from_app(cls, app=None) -> CronConfig:
        if app is None:
            from flask import current_app

            app = current_app
        return cls.from_config(app.config, instance_path=app.instance_path)

    @property
    def target(self) -> str:
        return self.crontab_file or "the user's crontab"

    @property
    def crontab_name(self) -> str:
        """The crontab as the host registry names it: the file, or whose crontab."""
        return self.crontab_file or f"user crontab of {_user_name()}"

    def tag(self, mailing_id: int | str) -> str:
        return f"mailer:{self.instance}:{_key(mailing_id)}"

    def script_path(self, mailing_id: int | str) -> Path:
        return Path(self.scripts_dir) / f"{_key(mailing_id)}_script.py"

    def command(self, mailing_id: int | str) -> str:
        return (f"{shlex.quote(self.python)} {shlex.quote(str(self.script_path(mailing_id)))}"
                f" >> {shlex.quote(self.log_file)} 2>&1")


# --- schedule -> cron line ---------------------------------------------------------------

def cron_spec(mailing, now: datetime | None = None) -> str | None:
    """The five cron fields, in the server's local time, of the next occurrence at or after now.

    ``mailing`` is anything with start_at, end_at, frequency and timezone. None
    when no occurrence is left. An occurrence with seconds fires on the next
    whole minute (cron has no seconds; firing earlier would find it not yet due).
    """
    now = now or datetime.now(timezone.utc)
    upcoming = schedule.next_after(
        mailing.start_at, mailing.end_at, frequency_name(mailing.frequency), mailing.timezone,
        now - timedelta(microseconds=1), count=1,
    )
    if not upcoming:
        return None
    local = _ceil_minute(upcoming[0]).astimezone()  # the process's zone: cron's
    frequency = frequency_name(mailing.frequency)
    if frequency == "daily":
        return f"{local.minute} {local.hour} * * *"
    if frequency == "weekly":
        return f"{local.minute} {local.hour} * * {local.isoweekday() % 7}"
    return f"{local.minute} {local.hour} {local.day} * *"


def bounces_spec(config: CronConfig) -> str | None:
    """Every BOUNCE_FETCH_MINUTES while a bounce mailbox is set."""
    minutes = config.bounce_fetch_minutes
    return None if minutes is None else f"*/{minutes} * * * *"


def cron_line(config: CronConfig, mailing_id: int | str, spec: str) -> str:
    # cron turns an unescaped % into a line break; python-crontab reads \% back as %.
    command = config.command(mailing_id).replace("%", "\\%")
    return f"{spec} {command} # {config.tag(mailing_id)}"


def script_text(config: CronConfig, mailing_id: int | str) -> str:
    """The generated script: the mailing id and paths only, never user data."""
    mailing_id = _key(mailing_id)
    env_file = repr(config.env_file) if config.env_file else "None"
    if mailing_id == BOUNCES:
        what, call = "reading the bounce mailbox", f"from mailer.bounces.cron_entry import main\n" \
            f"sys.exit(main(env_file={env_file}))\n"
    elif mailing_id == SYNC:
        what, call = "keeping this host's crontab in step with the database", \
            f"from mailer.scheduling.sync_entry import main\nsys.exit(main(env_file={env_file}))\n"
    else:
        what, call = f"mailing {mailing_id}", "from mailer.delivery.cron_entry import main\n" \
            f"sys.exit(main({mailing_id}, env_file={env_file}))\n"
    # Cron gives the script an empty environment: MAILER_HOME (where instance/ and scripts/
    # are) is set before mailer is imported, or an installed mailer would look in site-packages.
    home = f"os.environ.setdefault('MAILER_HOME', {config.home!r})\n" if config.home else ""
    return (
        f"#!{config.python}\n"
        f"# Generated by mailer for {what}; do not edit. It holds no user data.\n"
        "import os\n"
        "import sys\n"
        f"{home}"
        f"sys.path.insert(0, {config.project_root!r})\n"
        f"{call}"
    )


# --- the crontab as text ------------------------------------------------------------------

class Crontab:
    """The crontab's lines; this instance's tagged lines are indexed by mailing id."""

    def __init__(self, text: str, instance: str) -> None:
        self.instance = instance
        self.lines: list[str | None] = _split_lines(text)
        self.changed = False
        self.scripts_to_remove: list[int] = []
        self._ours: dict[int | str, list[int]] = {}
        for index, line in enumerate(self.lines):
            match = _TAG_RE.search(line.rstrip("\r\n"))
            if match and match["instance"] == instance and match.start() > 0:
                self._ours.setdefault(_key(match["id"]), []).append(index)

    def ids(self) -> set[int]:
        """The mailings with a line."""
        return {key for key in self._ours if isinstance(key, int)}

    def has(self, key: int | str) -> bool:
        return key in self._ours

    def line_of(self, mailing_id: int) -> str:
        """The first line of the mailing, without its tag."""
        line = self.lines[self._ours[mailing_id][0]].rstrip("\r\n")
        return line[:_TAG_RE.search(line).start()]

    def scripts_dirs(self, known: str | None = None) -> set[str]:
        """The folders whose ``*_script.py`` this instance's lines call (commented-out ones too),
        less ``known``: a line holding that text is not parsed (shlex on 10,000 lines costs
        0.7 s, a substring test 5 ms, and every edit asks)."""
        folders = set()
        for indexes in self._ours.values():
            for index in indexes:
                line = self.lines[index].rstrip("\r\n")
                if known and known in line:
                    continue
                body = line[:_TAG_RE.search(line).start()].lstrip("#").strip()
                fields = body.split(None, 1 if body.startswith("@") else 5)
                try:
                    words = shlex.split(fields[-1]) if len(fields) > 1 else []
                except ValueError:  # an unbalanced quote: hand-edited, nobody's script
                    continue
                folders.update(os.path.dirname(word) for word in words
                               if word.endswith("_script.py"))
        return folders

    def put(self, mailing_id: int, line: str) -> bool:
        """Set the mailing's one line (in place if it has one); whether anything changed."""
        indexes = self._ours.get(mailing_id)
        if indexes:
            first, *duplicates = indexes
            if self.lines[first].rstrip("\r\n") == line and not duplicates:
                return False
            ending = "\r\n" if self.lines[first].endswith("\r\n") else "\n"
            self.lines[first] = line + ending
            for index in duplicates:
                self.lines[index] = None
            self._ours[mailing_id] = [first]
        else:
            last = next((i for i in range(len(self.lines) - 1, -1, -1)
                         if self.lines[i] is not None), None)
            if last is not None and not self.lines[last].endswith("\n"):
                self.lines[last] += "\n"
            self.lines.append(line + "\n")
            self._ours[mailing_id] = [len(self.lines) - 1]
        self.changed = True
        return True

    def drop(self, mailing_id: int) -> bool:
        indexes = self._ours.pop(mailing_id, [])
        for index in indexes:
            self.lines[index] = None
        self.changed = self.changed or bool(indexes)
        return bool(indexes)

    def remove_script_after_write(self, mailing_id: int) -> None:
        """Scripts go only once no line calls them any more."""
        self.scripts_to_remove.append(mailing_id)

    def text(self) -> str:
        return "".join(line for line in self.lines if line is not None)


def _split_lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@contextmanager
def editing(config: CronConfig, take_over: bool = False) -> Iterator[Crontab]:
    """The crontab, read under the lock and written back if changed. Refused (``CronClash``,
    nothing written) while another install's lines carry this instance's tag, unless this
    install takes them over (after SCRIPTS_DIR moved)."""
    with locked(config):
        tab = Crontab(read_text(config), config.instance)
        problem = None if take_over else clash_in(config, tab)
        if problem:
            raise CronClash(problem)
        yield tab
        if tab.changed:
            _write_text(config, tab.text())
        for mailing_id in tab.scripts_to_remove:
            _remove_script(config, mailing_id)


def clash_in(config: CronConfig, tab: Crontab) -> str | None:
    """Why this install must not edit the crontab, or None.

    Lines tagged with this instance whose scripts are in another folder are another
    install's while that folder exists (lines calling a folder that is gone are stale ones
    of this install's, rewritten by the next edit)."""
    ours = os.path.realpath(config.scripts_dir)
    # How this install's own lines name its folder, where the path needs no quoting.
    known = config.scripts_dir + os.sep if shlex.quote(config.scripts_dir) == config.scripts_dir \
        else None
    others = sorted(folder for folder in tab.scripts_dirs(known)
                    if os.path.realpath(folder) != ours and os.path.isdir(folder))
    if not others:
        return None
    return (f"refused: lines tagged mailer:{config.instance}: in {config.target} call scripts in "
            f"{others[0]}, not in this install's {config.scripts_dir}: two installs with "
            f"MAILER_INSTANCE={config.instance} write this crontab and would overwrite each "
            f"other's lines; give each install its own MAILER_INSTANCE (or, if that folder is "
            f"where this install's scripts were before, run `flask cron sync --take-over`)")


def read_text(config: CronConfig) -> str:
    if config.crontab_file:
        try:
            with open(config.crontab_file, encoding="utf-8", newline="") as tab_file:
                return tab_file.read()
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as error:
            raise CronError(f"cannot read the crontab file {config.crontab_file}: {error}"
                            ) from error
    try:
        result = subprocess.run([_crontab_command(), "-l"], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        raise CronError(f"cannot read the user's crontab: {error}") from error
    if result.returncode != 0:
        if "no crontab for" in result.stderr.lower():
            return ""
        raise CronError(f"crontab -l failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _write_text(config: CronConfig, text: str) -> None:
    if config.crontab_file:
        try:
            _atomic_write(Path(os.path.realpath(config.crontab_file)), text, mode=None)
        except OSError as error:
            raise CronError(f"cannot write the crontab file {config.crontab_file}: {error}"
                            ) from error
        return
    descriptor, path = tempfile.mkstemp(prefix="mailer-crontab-", suffix=".txt")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as tab_file:
            tab_file.write(text)
        result = subprocess.run([_crontab_command(), path], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        raise CronError(f"cannot write the user's crontab: {error}") from error
    finally:
        os.unlink(path)
    if result.returncode != 0:
        raise CronError(f"crontab refused the new table ({result.returncode}): "
                        f"{result.stderr.strip()}")


def _crontab_command() -> str:
    return shutil.which("crontab") or "/usr/bin/crontab"


def lock_path(config: CronConfig) -> str:
    """Beside the crontab file; for the user's crontab, in the user's home directory, which
    the web service and cron's runs both see (not /tmp: systemd's PrivateTmp gives the
    service a /tmp of its own, and the two would not exclude each other)."""
    if config.crontab_file:
        return os.path.realpath(config.crontab_file) + ".lock"
    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:  # a uid with no passwd entry (some containers)
        home = os.path.expanduser("~")
    return os.path.join(home, ".mailer-crontab.lock")


@contextmanager
def locked(config: CronConfig) -> Iterator[None]:
    """One editor of the crontab at a time: web workers, cron runs, ``flask cron sync``."""
    path = lock_path(config)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise CronError(f"cannot open the crontab lock {path}: {error}") from error
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CronError(f"the crontab stayed locked ({path}) for "
                                    f"{LOCK_TIMEOUT_SECONDS:.0f} s") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(descriptor)


# --- scripts ------------------------------------------------------------------------------

def put_or_drop(config: CronConfig, tab: Crontab, mailing_id: int, spec: str | None) -> bool:
    """Give the mailing its script and line (spec) or take both away (None); whether it changed."""
    if spec is None:
        had_script = config.script_path(mailing_id).exists()
        tab.remove_script_after_write(mailing_id)
        return tab.drop(mailing_id) or had_script
    ensure_log_dir(config)
    script_changed = write_script(config, mailing_id)
    return tab.put(mailing_id, cron_line(config, mailing_id, spec)) or script_changed


def write_script(config: CronConfig, mailing_id: int) -> bool:
    """Write the script unless it is already exactly right; whether it was written."""
    path = config.script_path(mailing_id)
    text = script_text(config, mailing_id)
    try:
        if path.read_text(encoding="utf-8") == text and path.stat().st_mode & 0o777 == 0o755:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    try:
        _atomic_write(path, text, mode=0o755)
    except OSError as error:
        raise CronError(f"cannot write the script {path}: {error}") from error
    return True


def ensure_log_dir(config: CronConfig) -> None:
    """The line's ``>> log`` fails in a missing directory, and then the run never starts."""
    try:
        Path(config.log_file).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CronError(f"cannot create the log directory of {config.log_file}: {error}") from error


def _remove_script(config: CronConfig, mailing_id: int) -> None:
    try:
        config.script_path(mailing_id).unlink(missing_ok=True)
    except OSError as error:
        raise CronError(f"cannot remove the script {config.script_path(mailing_id)}: {error}"
                        ) from error


def script_ids(config: CronConfig) -> set[int]:
    try:
        names = os.listdir(config.scripts_dir)
    except FileNotFoundError:
        return set()
    return {int(match[1]) for name in names if (match := _SCRIPT_RE.fullmatch(name))}


def _atomic_write(path: Path, text: str, mode: int | None) -> None:
    """Readers (cron, the dev runner, a starting script) see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as output:
            output.write(text)
            output.flush()
            os.fchmod(output.fileno(), mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


# --- helpers ------------------------------------------------------------------------------

def _key(mailing_id) -> int | str:
    """A line's key: a mailing's id, BOUNCES or SYNC."""
    return mailing_id if mailing_id in (BOUNCES, SYNC) else valid_id(mailing_id)


def valid_id(mailing_id) -> int:
    if isinstance(mailing_id, bool):
        raise ValueError(f"a mailing id must be a whole number, got {mailing_id!r}")
    value = int(mailing_id)
    if value < 0 or str(value) != str(mailing_id).strip():
        raise ValueError(f"a mailing id must be a whole number >= 0, got {mailing_id!r}")
    return value


def frequency_name(value) -> str:
    return getattr(value, "value", value)


def _ceil_minute(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _absolute(path) -> str:
    return os.path.abspath(os.fspath(path))


def this_machine() -> str:
    """This host's name in the registry of hosts (``cron_hosts``): its host name, and a short
    digest of /etc/machine-id where there is one, so two containers or clones that share a
    host name still differ. The digest is salted: machine-id itself is meant to stay private."""
    name = socket.gethostname() or "localhost"
    try:
        machine_id = Path("/etc/machine-id").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        machine_id = ""
    if machine_id:
        name += "/" + hashlib.sha256(f"mailer:{machine_id}".encode()).hexdigest()[:8]
    return name[:255]


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return f"uid {os.getuid()}"
