"""What the test suite needs from this machine: found, provided, or named.

``make test`` runs this module with the system Python before the venv exists,
so it imports nothing but the standard library:

- as root on Debian it installs (apt-get) and starts whatever is missing, then
  hands over to pytest; on a machine that already has everything it only looks
  (a port probe, a login probe and a few path checks, about 40 ms) and starts
  nothing;
- without root, or with ``--check``, it prints one line per missing thing,
  saying what to install or which ``TEST_*`` variable to set, and exits 3
  before pytest collects a single test.

``tests/conftest.py`` asks the same questions when pytest is run directly, for
the fixtures the selected tests use, so a suite never runs half-way for want
of a service. What the suite starts for itself (a redis-server per test, the
SMTP servers, the app under gunicorn) its fixtures start and stop on free
ports; here we only make sure the programs exist. PostgreSQL and cron are the
machine's own daemons: the suite works in a throwaway database of its own and
under a crontab tag of its own, so two suites on one machine do not collide.
"""
from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from tests import mail_servers as ms
from tests import mailbox_server as mbs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
# On a stock PostgreSQL (password logins on TCP) the suite gets a role of its
# own, allowed in from loopback without a password; it may create databases,
# nothing more.
SUITE_ROLE = "mailer_test"
HBA_MARK = "# mailer test suite (make test): its own role, from loopback only"
HBA_LINES = (f"host all {SUITE_ROLE} 127.0.0.1/32 trust", f"host all {SUITE_ROLE} ::1/128 trust")
CHECK_ONLY_EXIT = 3
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")  # asked by invoke-rc.d before a package starts a service


# --- PostgreSQL ---------------------------------------------------------------

def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def postgres_login(host: str, port: int, user: str, timeout: float = 5) -> str:
    """``"ok"`` if ``user`` gets in without a password, ``"password"`` if one is
    asked for, otherwise why not (in PostgreSQL's words where it gave some).

    Speaks the first exchange of PostgreSQL's wire protocol itself, so it works
    before any driver is installed and costs one round trip.
    """
    startup = struct.pack("!I", 196608) + f"user\0{user}\0database\0postgres\0\0".encode()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
            while True:  # AuthenticationOk comes before the role is checked; ReadyForQuery settles it
                kind = _receive(sock, 1)
                length = struct.unpack("!I", _receive(sock, 4))[0]
                if not 4 <= length <= 1 << 20:
                    break
                body = _receive(sock, length - 4)
                if kind == b"Z":
                    sock.sendall(b"X\0\0\0\4")  # Terminate: a clean goodbye, not an error in its log
                    return "ok"
                if kind == b"R" and struct.unpack("!I", body[:4])[0] != 0:
                    return "password"
                if kind == b"E":
                    fields = dict((part[:1], part[1:]) for part in body.split(b"\0") if part)
                    return fields.get(b"M", b"refused").decode("utf-8", "replace")
                if kind not in b"RSKN":
                    break
    except (OSError, struct.error) as error:
        return f"nothing answers on {host}:{port} ({getattr(error, 'strerror', None) or error})"
    return f"{host}:{port} does not speak PostgreSQL's protocol"


def _postgres_url(user: str) -> str:
    return f"postgresql+psycopg://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"


@cache
def database_server() -> tuple[str | None, str | None]:
    """(URL of the server the suite makes its databases on, None) or (None, what is wrong).

    ``TEST_DATABASE_URL`` wins; otherwise the local server as ``postgres`` (trust
    logins, as on our machines), or as the suite's own role once provisioned.
    """
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured, _unreachable(configured)
    answer = postgres_login(POSTGRES_HOST, POSTGRES_PORT, "postgres")
    if answer == "ok":
        return _postgres_url("postgres"), None
    if answer == "password" and postgres_login(POSTGRES_HOST, POSTGRES_PORT, SUITE_ROLE) == "ok":
        return _postgres_url(SUITE_ROLE), None
    if answer == "password":
        answer = f"{POSTGRES_HOST}:{POSTGRES_PORT} wants a password for postgres"
    return None, answer


def _unreachable(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        return None
    try:
        socket.create_connection((parts.hostname or "localhost", parts.port or 5432), timeout=5).close()
    except OSError as error:
        return f"TEST_DATABASE_URL: nothing answers on {parts.hostname}:{parts.port or 5432} ({error.strerror})"
    return None


def _postgres_problem() -> str | None:
    return database_server()[1]


def _run_as_postgres(sql: str) -> str:
    return subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t",
                           "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True, cwd="/").stdout.strip()


def _start_postgresql() -> None:
    """Start (or create, then start) the local cluster on port 5432, and let the suite in."""
    clusters = [line.split() for line in subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout.splitlines()]
    ours = [c for c in clusters if len(c) > 3 and c[2] == str(POSTGRES_PORT)]
    if not ours:
        version = max((p.name for p in Path("/usr/lib/postgresql").iterdir()), key=int)
        _say(f"creating PostgreSQL {version} cluster 'main' (UTF-8)")
        subprocess.run(["pg_createcluster", "--locale", "C.UTF-8", "--port", str(POSTGRES_PORT),
                        version, "main"], check=True, stdout=subprocess.DEVNULL)
        ours = [[version, "main", str(POSTGRES_PORT), "down"]]
    version, name, _port, status = ours[0][:4]
    if not status.startswith("online"):
        _say(f"starting PostgreSQL {version}/{name}")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=True)
    _wait_for_port(POSTGRES_HOST, POSTGRES_PORT)
    if (postgres_login(POSTGRES_HOST, POSTGRES_PORT, "postgres") == "password"
            and postgres_login(POSTGRES_HOST, POSTGRES_PORT, SUITE_ROLE) != "ok"):
        _admit_suite_role()
    database_server.cache_clear()


def _admit_suite_role() -> None:
    """A role that may create databases, let in from loopback without a password."""
    _say(f"PostgreSQL wants passwords on TCP: adding role {SUITE_ROLE} (CREATEDB), "
         "trusted from loopback only")
    _run_as_postgres(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SUITE_ROLE}') "
        f"THEN CREATE ROLE {SUITE_ROLE} LOGIN CREATEDB; END IF; END $$")
    hba = Path(_run_as_postgres("SHOW hba_file"))
    text = hba.read_text()
    if HBA_MARK not in text:
        hba.write_text("\n".join((HBA_MARK, *HBA_LINES, "")) + "\n" + text)  # first match wins
    _run_as_postgres("SELECT pg_reload_conf()")
    for _ in range(50):  # the reload is signalled, not waited for
        if postgres_login(POSTGRES_HOST, POSTGRES_PORT, SUITE_ROLE) == "ok":
            return
        time.sleep(0.1)


# --- programs and daemons -----------------------------------------------------

def chromium_path() -> str:
    return os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")


def java_path() -> str:
    """The Java that runs the W3C Nu HTML checker (the vnu jar comes with requirements-dev)."""
    return os.environ.get("TEST_JAVA") or shutil.which("java") or "java"


def redis_server_path() -> str:
    return os.environ.get("TEST_REDIS_SERVER") or shutil.which("redis-server") or "redis-server"


def _program_problem(path: str) -> str | None:
    return None if shutil.which(path) else f"{path} not found"


def libfaketime_path() -> str:
    """libfaketime, preloaded into a process whose clock a test sets off (Debian's path is per
    architecture)."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    return os.environ.get("TEST_LIBFAKETIME") or str(found[0] if found else
                                                     "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _file_problem(path: str) -> str | None:
    return None if Path(path).is_file() else f"{path} not found"


def _cron_running() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "cron":
                return True
        except OSError:
            continue
    return False


def cron_problem() -> str | None:
    if shutil.which("crontab") is None:
        return "the crontab command is not installed"
    return None if _cron_running() else "the cron daemon is not running"


def _start_cron() -> None:
    if not _cron_running():
        _say("starting cron")
        subprocess.run([shutil.which("cron") or "/usr/sbin/cron"], check=True)


def _venv_problem() -> str | None:
    if (PROJECT_ROOT / ".venv" / "bin" / "python").exists():
        return None
    try:
        import ensurepip  # noqa: F401  (Debian splits it into python3-venv)
    except ImportError:
        return f"{sys.executable} cannot make a virtual environment (no ensurepip)"
    return None


# --- the strict mail servers (tests/mail_servers.py runs them) ------------------

def _user_id(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _root_problem(kind: str) -> str | None:
    if os.geteuid() == 0:
        return None
    return f"the tests run a private {kind} as root; run them as root"


def postfix_problem() -> str | None:
    """None when this machine can run the private Postfix instances, else what it lacks."""
    if not (ms.POSTFIX_MASTER.exists() and ms.POSTCONF.exists()):
        return f"Postfix is not installed (Debian package {ms.POSTFIX_PACKAGE})"
    if _user_id("postfix") is None:
        return "Postfix's user postfix is missing (reinstall the Debian package postfix)"
    bare_newline = subprocess.run([str(ms.POSTCONF), "-d", "-h", "smtpd_forbid_bare_newline"],
                                  capture_output=True, text=True)
    if not bare_newline.stdout.strip():
        version = subprocess.run([str(ms.POSTCONF), "-d", "-h", "mail_version"],
                                 capture_output=True, text=True).stdout.strip()
        return f"Postfix {version} lacks smtpd_forbid_bare_newline (3.7.10 and later have it)"
    return _root_problem("Postfix")


def _provide_postfix() -> None:
    """Debian's postfix without a system configuration, so its own instance never starts
    (the debconf answer must be in before the install, hence an apt-get run of its own)."""
    subprocess.run(["debconf-set-selections"], input=ms.POSTFIX_PRESEED + "\n", text=True, check=True)
    if not _package_installed(ms.POSTFIX_PACKAGE):
        _install([ms.POSTFIX_PACKAGE])


def exim_problem() -> str | None:
    """None when the unpacked Exim runs here, else what is missing (its own last words if any)."""
    if not ms.EXIM_BINARY.exists():
        return f"Exim is not unpacked in {ms.EXIM_ROOT} (from Debian's {ms.EXIM_PACKAGE})"
    if _user_id(ms.EXIM_USER) is None:
        return f"Exim's user {ms.EXIM_USER} is missing"
    version = subprocess.run([str(ms.EXIM_BINARY), "-C", os.devnull, "-bV"], capture_output=True, text=True)
    if version.returncode or "Exim version" not in version.stdout:
        last_words = (version.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{ms.EXIM_BINARY} does not run: {last_words}"
    return _root_problem("Exim")


def _provide_exim() -> None:
    """Debian's Exim unpacked into EXIM_ROOT, its libraries installed, its user added.

    Installing exim4-daemon-light would remove postfix (both provide
    mail-transport-agent), so only its files are unpacked; the libraries it
    links against conflict with nothing and are installed as usual.
    """
    if _user_id(ms.EXIM_USER) is None:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                        "/var/spool/exim4", "--shell", "/usr/sbin/nologin", ms.EXIM_USER], check=True)
    _say(f"unpacking {ms.EXIM_PACKAGE} into {ms.EXIM_ROOT}")
    _update_package_lists()
    with tempfile.TemporaryDirectory() as downloads:
        _apt_get("download", ms.EXIM_PACKAGE, cwd=downloads)
        package = next(Path(downloads).glob(f"{ms.EXIM_PACKAGE}_*.deb"))
        missing = [name for name in _library_dependencies(package) if not _package_installed(name)]
        if missing:
            _install(missing)
        ms.EXIM_ROOT.parent.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(prefix="exim.", dir=ms.EXIM_ROOT.parent))
        subprocess.run(["dpkg-deb", "-x", str(package), str(unpacked)], check=True)
    (unpacked / ms.EXIM_BINARY.relative_to(ms.EXIM_ROOT)).chmod(0o755)  # run as root: no setuid copy
    unpacked.chmod(0o755)
    shutil.rmtree(ms.EXIM_ROOT, ignore_errors=True)
    unpacked.rename(ms.EXIM_ROOT)


def _library_dependencies(package: Path) -> list[str]:
    """The lib* packages a .deb depends on, e.g. libidn12 for Exim 4.96."""
    depends = subprocess.run(["dpkg-deb", "-f", str(package), "Depends"],
                             capture_output=True, text=True, check=True).stdout
    names = (alternative.split("|")[0].split()[0] for alternative in depends.split(","))
    return sorted({name for name in names if name.startswith("lib")})


def dovecot_problem() -> str | None:
    """None when this machine can run the private Dovecot instances, else what it lacks."""
    programs = (mbs.DOVECOT_BINARY, mbs.DOVEADM, *mbs.DOVECOT_PROGRAMS, mbs.QUOTA_PLUGIN)
    absent = [str(path) for path in programs if not path.exists()]
    if absent:
        return (f"Dovecot is not installed (Debian packages {', '.join(mbs.DOVECOT_PACKAGES)}): "
                f"no {absent[0]}")
    users = [name for name in mbs.DOVECOT_USERS if _user_id(name) is None]
    if users:
        return f"Dovecot's user {users[0]} is missing (reinstall the Debian package dovecot-core)"
    if _user_id(mbs.MAILBOX_OWNER) is None:
        return f"the user {mbs.MAILBOX_OWNER}, owner of the test mailboxes, is missing"
    return _root_problem("Dovecot")


def _provide_dovecot() -> None:
    """Debian's Dovecot installed with no system instance running, now or after a reboot.

    Its packages start and enable a system Dovecot (IMAP and POP3 on every interface, system
    users' passwords); the tests only run private instances, so the install runs under a
    policy-rc.d that forbids starts, and the service is disabled afterwards.
    """
    missing = [name for name in mbs.DOVECOT_PACKAGES if not _package_installed(name)]
    if not missing:
        return
    with _no_service_starts():
        _install(missing)
    _disable_system_dovecot()


@contextmanager
def _no_service_starts():
    """A policy-rc.d answering 101 (action forbidden) while packages install, removed after.

    One already there (Docker images have one) is left as it is.
    """
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\n# tests/provision.py: no service starts during its apt-get run\n"
                           "exit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _disable_system_dovecot() -> None:
    if Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "disable", "--now", "dovecot.service", "dovecot.socket"],
                       capture_output=True)
    else:
        subprocess.run(["update-rc.d", "dovecot", "disable"], capture_output=True)
        subprocess.run([str(mbs.DOVECOT_BINARY), "stop"], capture_output=True)  # if it ran anyway


@dataclass(frozen=True)
class Need:
    """One thing the suite needs from the machine."""

    name: str
    problem: Callable[[], str | None]  # None when the machine has it
    packages: tuple[str, ...]  # the Debian packages that provide it
    advice: str  # what a developer without root does about it
    fixture: str | None = None  # the fixture whose tests need it (None: make test itself)
    also_for: tuple[str, ...] = ()  # further fixtures whose tests need it
    start: Callable[[], None] | None = None  # as root, once installed
    variable: str | None = None  # the TEST_* setting that points elsewhere; when set, we provide nothing

    def needed_by(self, fixtures: set[str]) -> bool:
        return bool({self.fixture, *self.also_for} & fixtures)

    def provided_elsewhere(self) -> bool:
        return bool(self.variable and os.environ.get(self.variable))


NEEDS = (
    Need("Python venv", _venv_problem, ("python3-venv",),
         "install python3-venv, or run make with PYTHON=a Python that has venv and ensurepip"),
    Need("PostgreSQL", _postgres_problem, ("postgresql",),
         "install and start PostgreSQL on 127.0.0.1:5432 with trust logins for postgres, or set "
         "TEST_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST:PORT/postgres "
         "(a role that may create databases)",
         fixture="database_url", start=_start_postgresql, variable="TEST_DATABASE_URL"),
    Need("Redis", lambda: _program_problem(redis_server_path()), ("redis-server",),
         "install redis-server (the tests start their own on free ports), or set TEST_REDIS_SERVER "
         "to its path", fixture="private_redis", variable="TEST_REDIS_SERVER"),
    Need("cron", cron_problem, ("cron",),
         "install Debian's cron and start its daemon as root (apt-get install cron; cron)",
         fixture="cron_daemon", start=_start_cron),
    Need("Postfix", postfix_problem, (),
         "install Debian's postfix choosing 'No configuration' (the tests run their own instances), "
         "and run the tests as root", fixture="postfix_server", also_for=("bounce_world",),
         start=_provide_postfix),
    Need("Exim", exim_problem, (),
         f"run make test as root once: it unpacks Debian's {ms.EXIM_PACKAGE} into {ms.EXIM_ROOT} "
         "(installing it would remove postfix)", fixture="exim_server", start=_provide_exim),
    Need("Dovecot", dovecot_problem, (),
         f"install Debian's {', '.join(mbs.DOVECOT_PACKAGES)} (the tests run their own instances; "
         "no system Dovecot needs to run), and run the tests as root", fixture="bounce_world",
         start=_provide_dovecot),
    Need("Chromium", lambda: _program_problem(chromium_path()), ("chromium",),
         "install Debian's chromium, or set TEST_CHROMIUM to a Chromium binary", fixture="browser",
         variable="TEST_CHROMIUM"),
    Need("Java", lambda: _program_problem(java_path()), ("default-jre-headless",),
         "install Debian's default-jre-headless (the W3C Nu HTML checker runs on it), or set "
         "TEST_JAVA to a java binary", fixture="html_checker", variable="TEST_JAVA"),
    Need("curl", lambda: _program_problem("curl"), ("curl",),
         "install Debian's curl (the README's API example is run with it)", fixture="curl"),
    Need("libfaketime", lambda: _file_problem(libfaketime_path()), ("libfaketime",),
         "install Debian's libfaketime (`flask doctor` is run on a clock set off), or set "
         "TEST_LIBFAKETIME to libfaketime.so.1", fixture="libfaketime", variable="TEST_LIBFAKETIME"),
)


def unmet(needs=NEEDS) -> list[tuple[Need, str]]:
    return [(need, problem) for need in needs if (problem := need.problem())]


def unmet_for_fixtures(fixtures: set[str]) -> list[str]:
    """One line per missing thing the tests using ``fixtures`` need (for conftest)."""
    return [_line(need, problem) for need, problem in unmet([n for n in NEEDS if n.needed_by(fixtures)])]


def _line(need: Need, problem: str) -> str:
    return f"{need.name}: {problem}; {need.advice}."


# --- providing ------------------------------------------------------------------

def _say(text: str) -> None:
    print(f"[make test] {text}", file=sys.stderr, flush=True)


def _wait_for_port(host: str, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers on {host}:{port} after {seconds:.0f} s")


APT_LOCK_WAIT = 600  # seconds: another apt-get (a second checkout's provision, unattended upgrades)


def _apt_get(*arguments: str, cwd: str | None = None) -> None:
    """Run apt-get, waiting while another apt-get holds its locks: dpkg's lock through
    ``DPkg::Lock::Timeout``; the package lists' lock, which ``apt-get update`` does not wait
    for (apt 2.6), by trying again until it is free."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    command = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT}", *arguments]
    deadline = time.monotonic() + APT_LOCK_WAIT
    while True:
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        if not (done.returncode and "Could not get lock" in done.stderr and time.monotonic() < deadline):
            break
        time.sleep(1)
    if done.returncode:
        raise RuntimeError(f"apt-get {arguments[0]} failed: "
                           + " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:]))


@cache
def _update_package_lists() -> None:
    _apt_get("update", "-qq")


def _install(packages: list[str]) -> None:
    _say(f"installing {' '.join(packages)} (Debian packages)")
    _update_package_lists()
    _apt_get("install", "-y", "-qq", "--no-install-recommends", *packages)


def provide(missing: list[tuple[Need, str]]) -> None:
    """As root: install what is missing in one apt-get run, then start the daemons."""
    missing = [(need, problem) for need, problem in missing if not need.provided_elsewhere()]
    to_install = sorted({package for need, _ in missing for package in need.packages
                         if not _package_installed(package)})
    if to_install:
        _install(to_install)
    for need, _ in missing:
        if need.start:
            need.start()


def _package_installed(package: str) -> bool:
    status = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True)
    return status.stdout == "install ok installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only look: install and start nothing")
    args = parser.parse_args(argv)
    missing = unmet()
    if not missing:
        return 0
    may_provide = not args.check and os.geteuid() == 0 and shutil.which("apt-get")
    if may_provide:
        try:
            provide(missing)
        except (subprocess.CalledProcessError, RuntimeError, OSError) as error:
            _say(f"could not provide what the suite needs: {error}")
        missing = unmet()
        if not missing:
            return 0
    reason = "" if may_provide or args.check else " (run it as root on Debian to have them installed and started)"
    print(f"make test: this machine lacks what the suite needs{reason}:", file=sys.stderr)
    for need, problem in missing:
        print(f"- {_line(need, problem)}", file=sys.stderr)
    return CHECK_ONLY_EXIT


if __name__ == "__main__":
    sys.exit(main())
