"""Real, strict mail servers for the tests: a private Postfix and a queue-only Exim.

The aiosmtpd servers of tests/smtp_servers.py accept whatever Python accepts;
these are the servers our letters meet in the world, configured strictly:

- ``PostfixServer``: Debian's Postfix as a private instance (its own
  config_directory, queue_directory and data_directory in a temporary
  directory) listening on 127.0.0.1:<free port>. It refuses bare <LF> line
  endings (``smtpd_forbid_bare_newline = reject``: the SMTP smuggling defence)
  and lines over 998 octets, advertises 8BITMIME and SMTPUTF8, and delivers
  every recipient's copy into one Maildir that the test reads.
- ``EximServer``: Exim from Debian's exim4-daemon-light, unpacked outside the
  package system (it conflicts with postfix), accepting over SMTP and keeping
  every message in its own spool (queue_only), where the test reads it back.
  It refuses lines over 998 octets.

Each server is a context manager and also has ``start()``/``stop()``; nothing
of it outlives ``stop()``: its processes run under a small reaper process (see
``_reap``) that ends and collects every one of them, and its directory is
removed. Two servers, of one kind or not, in one test run or in two, share
nothing but the programs.

The part above the fixtures imports only the standard library, because
tests/provision.py (which makes sure the programs are here) reads its paths
with the system Python, before the venv exists; the fixtures are defined only
where pytest is importable.
"""
from __future__ import annotations

import ctypes
import email.policy
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path

HOST = "127.0.0.1"
LINE_LIMIT = 998  # octets, CRLF excluded: RFC 5322 section 2.1.1
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.02

POSTFIX_PACKAGE = "postfix"
# "No configuration" leaves /etc/postfix/main.cf unwritten, and without it the
# system instance never starts: only our private instances run, never on port 25.
POSTFIX_PRESEED = "postfix postfix/main_mailer_type select No configuration"
POSTFIX_MASTER = Path("/usr/lib/postfix/sbin/master")
POSTFIX_COMMAND = Path("/usr/sbin/postfix")
POSTCONF = Path("/usr/sbin/postconf")
POSTSUPER = Path("/usr/sbin/postsuper")
POSTQUEUE = Path("/usr/sbin/postqueue")
VIRTUAL_MAILBOX_OWNER = "nobody"  # the virtual delivery agent refuses uids below 100

EXIM_PACKAGE = "exim4-daemon-light"
EXIM_ROOT = Path("/var/cache/mailer-tests/exim")
EXIM_BINARY = EXIM_ROOT / "usr/sbin/exim4"
EXIM_USER = "Debian-exim"  # compiled into Debian's exim4; it looks the user up on every start


class ReadsAsLetter:
    """What a test reads of a received letter (``message``: the parsed letter)."""

    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class ReceivedMessage(ReadsAsLetter):
    """One message as the server stored it.

    ``raw`` is the stored text, with LF line endings as both servers keep it:
    Postfix's copy starts with the Return-Path, X-Original-To, Delivered-To and
    Received headers it added, Exim's with its Received header.
    """

    raw: bytes
    envelope_from: str | None = None
    envelope_to: list[str] = field(default_factory=list)
    id: str = ""  # Exim's message id; for Postfix, the Maildir file's name

    @cached_property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=email.policy.default)



def free_port() -> int:
    """A loopback port free right now (as in tests/smtp_servers.py, which imports aiosmtpd)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line or environment contains ``text``.

    Postfix's daemons do not name their configuration on the command line but
    inherit MAIL_CONFIG=<config_directory> from master; Exim's carry ``-C <file>``.
    """
    needle = text.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(needle in (entry / part).read_bytes() for part in ("cmdline", "environ")):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def greets(port: int, greeting: bytes, farewell: bytes) -> bool:
    """Whether the server on ``port`` greets with ``greeting``; it gets ``farewell`` but no
    wait for the reply (Exim holds its answer to QUIT back 200 ms)."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            greeted = sock.recv(512).startswith(greeting)
            sock.sendall(farewell)
            return greeted
    except OSError:
        return False


def _smtp_banner(port: int) -> bool:
    return greets(port, b"220", b"QUIT\r\n")


class _MailServer:
    """What both servers share: a directory, a port, a reaped process tree, polling."""

    kind = "mail server"
    start_attempts = 3  # free_port() can race another program for the port

    def __init__(self, line_limit: int | None = LINE_LIMIT) -> None:
        self.line_limit = line_limit
        self.port = 0
        self.directory: Path | None = None
        self._reaper: subprocess.Popen | None = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {HOST}:{self.port} in {self.directory}>"

    def start(self):
        """Start on a free port: a few tries, as another program may take the port meanwhile."""
        problem = ""
        for _ in range(self.start_attempts):
            try:
                if self._start_once():
                    return self
                problem = self._log_tail()
            except BaseException:
                self.stop()
                raise
            self.stop()
        raise RuntimeError(f"{self.kind} did not start; the end of its log:\n{problem}")

    def _start_once(self) -> bool:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=f"mailer-{self.kind.lower()}-"))
        self.directory.chmod(0o755)  # the servers' own users walk through it
        self._prepare()
        reaper = [sys.executable, "-I", "-S", __file__,  # -S: no site-packages, a quick start
                  "reap", str(os.getpid()), str(self.directory), "--"]
        with (self.directory / "server.out").open("wb") as output:
            self._reaper = subprocess.Popen(
                [*reaper, *self._command()], stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True, env=self._environment())
        return self._await_banner()

    def _environment(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

    def _await_banner(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self._reaper.poll() is None:
            if self._greets():
                return True
            time.sleep(POLL_INTERVAL)
        return False

    def _greets(self) -> bool:
        """Whether the server answers on its port, ready."""
        return _smtp_banner(self.port)

    def stop(self) -> None:
        """End every process of the instance (the reaper sees to it) and remove its directory."""
        if self._reaper is not None:
            if self._reaper.poll() is None:
                self._reaper.send_signal(signal.SIGTERM)
            try:
                self._reaper.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._reaper.kill()
                self._reaper.wait()
            self._reaper = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def processes(self) -> list[int]:
        return processes_mentioning(str(self.directory)) if self.directory else []

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The messages received since start or ``clear()``, once there are at least ``count``."""
        deadline = time.monotonic() + timeout
        while self._count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.kind} on port {self.port} has {self._count()} "
                                     f"messages, not {count}, after {timeout:g} s; "
                                     f"the end of its log:\n{self._log_tail()}")
            time.sleep(POLL_INTERVAL)
        return self.messages()

    def log(self) -> str:
        """The server's own log (what it refused and why), for failure messages and checks."""
        return "".join(path.read_text(errors="replace")
                       for path in self._log_files() if path.exists())

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def _log_files(self) -> list[Path]:
        return [self.directory / "server.out"] if self.directory else []

    def _prepare(self) -> None:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _count(self) -> int:
        raise NotImplementedError

    def messages(self) -> list[ReceivedMessage]:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


# --- Postfix ------------------------------------------------------------------

class PostfixServer(_MailServer):
    """A private Postfix instance delivering every recipient's copy into one Maildir.

    Delivery is by the virtual(8) agent with ``virtual_mailbox_domains =
    static:all``: every domain is ours, every address maps to the same Maildir,
    owned by ``nobody``; nothing is ever relayed (the default and relay
    transports are ``error:``). A message to n recipients makes n files, each
    with its own Delivered-To. The Maildir is the simplest reliable sink:
    Postfix writes each file in tmp/ and renames it into new/, so a file there
    is complete.

    ``bare_newline`` is smtpd_forbid_bare_newline: in Postfix 3.7.11 ``yes``
    means ``normalize`` (bare <LF> accepted and stored as a line end; only
    <LF>.<LF> no longer ends DATA), so refusing takes ``reject``. Its
    exclusions default to $mynetworks, which would exempt our loopback client,
    so they are emptied. Lines over ``line_limit`` octets are refused by
    header and body checks (Postfix itself accepts them: it splits lines only
    past line_length_limit, 2048, and joins them again on delivery).
    """

    kind = "Postfix"

    def __init__(self, line_limit: int | None = LINE_LIMIT,
                 bare_newline: str = "reject") -> None:
        super().__init__(line_limit)
        self.bare_newline = bare_newline

    @property
    def config_directory(self) -> Path:
        return self.directory / "config"

    @property
    def maildir(self) -> Path:
        return self.directory / "mail" / "Maildir"

    def _prepare(self) -> None:
        for name in ("config", "queue", "mail"):
            (self.directory / name).mkdir()
        owner = pwd.getpwnam(VIRTUAL_MAILBOX_OWNER)
        os.chown(self.directory / "mail", owner.pw_uid, owner.pw_gid)
        _write_settled(self.config_directory / "main.cf", self._main_cf(owner))
        _write_settled(self.config_directory / "master.cf", self._master_cf())
        if self.line_limit is not None:
            _write_settled(self.config_directory / "line_limit.regexp", self._line_limit_rule())
        check = subprocess.run([str(POSTFIX_COMMAND), "-c", str(self.config_directory), "check"],
                               capture_output=True, text=True, env=self._environment())
        if check.returncode:  # it also creates the queue's subdirectories, owned by postfix
            raise RuntimeError(f"postfix check failed: {(check.stderr or check.stdout).strip()}")

    def _line_limit_rule(self) -> str:
        """A regexp table line matching any header or body line over the limit.

        The m flag (REG_NEWLINE) keeps ``.`` within one line of a folded header,
        which Postfix's header_checks see whole.
        """
        return (f"/^.{{{self.line_limit + 1}}}/m"
                f" REJECT 5.5.2 line longer than {self.line_limit} octets\n")

    def _main_cf(self, owner: pwd.struct_passwd) -> str:
        return "".join(f"{name} = {value}\n" for name, value in self._settings(owner).items())

    def _settings(self, owner: pwd.struct_passwd) -> dict[str, object]:
        """main.cf's settings, by name (a subclass changes some)."""
        checks = ("" if self.line_limit is None
                  else f"regexp:{self.config_directory}/line_limit.regexp")
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.directory / "queue",
            "data_directory": self.directory / "data",
            "maillog_file": self.directory / "maillog",
            "maillog_file_prefixes": self.directory,
            "myhostname": "postfix.test",
            "inet_interfaces": HOST,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "local_recipient_maps": "",
            "relay_domains": "",
            "alias_maps": "",
            "alias_database": "",
            "local_header_rewrite_clients": "",  # store headers as sent: add no Date or Message-Id
            "default_transport": "error:this test server relays nothing",
            "relay_transport": "error:this test server relays nothing",
            "virtual_mailbox_domains": "static:all",
            "virtual_mailbox_base": self.directory / "mail",
            "virtual_mailbox_maps": "static:Maildir/",
            "virtual_uid_maps": f"static:{owner.pw_uid}",
            "virtual_gid_maps": f"static:{owner.pw_gid}",
            "smtpd_forbid_bare_newline": self.bare_newline,
            "smtpd_forbid_bare_newline_exclusions": "",
            "smtputf8_enable": "yes",
            "header_checks": checks,
            "body_checks": checks,
            "body_checks_size_limit": "$message_size_limit",  # not 50 kB: check whole parts
            "smtpd_error_sleep_time": "0s",  # timing only: refusals come without the 1 s pause
            "in_flow_delay": "0s",
            "biff": "no",
        }

    def _master_cf(self) -> str:
        """master.cf with only the services this instance uses, none chrooted."""
        services = (
            f"{HOST}:{self.port} inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "virtual unix - n n - - virtual",
            "postlog unix-dgram n - n - 1 postlogd",
        )
        return "\n".join(services) + "\n"

    def _command(self) -> list[str]:
        return [str(POSTFIX_MASTER), "-c", str(self.config_directory)]

    def _log_files(self) -> list[Path]:
        return [*super()._log_files(), self.directory / "maillog"] if self.directory else []

    def _files(self) -> list[Path]:
        files = [path for sub in ("new", "cur") if (self.maildir / sub).is_dir()
                 for path in (self.maildir / sub).iterdir()]
        return sorted(files, key=lambda path: (path.stat().st_mtime_ns, path.name))

    def _count(self) -> int:
        return len(self._files())

    def messages(self) -> list[ReceivedMessage]:
        return [self._read(path) for path in self._files()]

    @staticmethod
    def _read(path: Path) -> ReceivedMessage:
        received = ReceivedMessage(path.read_bytes(), id=path.name)
        return_path = received.message["Return-Path"]
        delivered_to = received.message["Delivered-To"]
        received.envelope_from = str(return_path).strip("<>") if return_path is not None else None
        received.envelope_to = [str(delivered_to)] if delivered_to is not None else []
        return received

    def flush(self) -> None:
        """Try every deferred message again now, as an administrator's ``postqueue -f`` does."""
        subprocess.run([str(POSTQUEUE), "-c", str(self.config_directory), "-f"],
                       capture_output=True, env=self._environment(), timeout=STOP_TIMEOUT)

    def clear(self) -> None:
        """Forget what was received: drop whatever is still queued, then empty the Maildir."""
        subprocess.run([str(POSTSUPER), "-c", str(self.config_directory), "-d", "ALL"],
                       capture_output=True, env=self._environment())
        for path in self._files():
            path.unlink(missing_ok=True)


def _write_settled(path: Path, text: str) -> None:
    """Write a configuration file dated a minute ago.

    Postfix waits (300 ms at a time, up to about 2.5 s) for a main.cf modified
    within the last second or two to settle before it trusts it.
    """
    path.write_text(text)
    past = time.time() - 60
    os.utime(path, (past, past))


# --- Exim ---------------------------------------------------------------------

_SPOOL_HEADER = re.compile(rb"(\d+)(.) ")


class EximServer(_MailServer):
    """Exim accepting for any address and keeping every message in its spool (queue_only).

    Started with ``-C`` our own configuration, Exim gives up root for
    Debian-exim, so its spool and log directories belong to that user. It runs
    in the foreground (-bdf) with no queue runner: nothing is ever delivered.
    Exim 4.96 accepts long lines itself; the DATA ACL refuses lines over
    ``line_limit`` octets using $max_received_linelength. The messages are
    read from the spool files: -H holds the envelope and the headers, -D the
    body.
    """

    kind = "Exim"

    @property
    def spool(self) -> Path:
        return self.directory / "spool"

    @property
    def config_file(self) -> Path:
        return self.directory / "exim.conf"

    def _prepare(self) -> None:
        owner = pwd.getpwnam(EXIM_USER)
        for name in ("spool", "log"):
            (self.directory / name).mkdir()
            os.chown(self.directory / name, owner.pw_uid, owner.pw_gid)
        self.config_file.write_text(self._configuration())

    def _configuration(self) -> str:
        settings = [
            "primary_hostname = exim.test",
            f"spool_directory = {self.spool}",
            f"log_file_path = {self.directory}/log/%slog",
            f"pid_file_path = {self.directory}/exim.pid",
            f"local_interfaces = {HOST}",
            f"daemon_smtp_ports = {self.port}",
            "daemon_startup_retries = 0",  # a taken port fails at once, not after minutes
            "keep_environment =",
            "queue_only = true",
            "host_lookup =",
            "tls_advertise_hosts =",
            "accept_8bitmime = true",
            "smtputf8_advertise_hosts = *",
            "acl_smtp_rcpt = accept_any",
            "acl_smtp_data = check_data",
            "begin acl",
            "accept_any:",
            "  accept",
            "check_data:",
            *self._line_limit_acl(),
            "  accept",
        ]
        return "\n".join(settings) + "\n"

    def _line_limit_acl(self) -> list[str]:
        if self.line_limit is None:
            return []
        return [f"  deny condition = ${{if >{{$max_received_linelength}}{{{self.line_limit}}}}}",
                f"       message = line longer than {self.line_limit} octets"]

    def _command(self) -> list[str]:
        return [str(EXIM_BINARY), "-C", str(self.config_file), "-bdf"]

    def _log_files(self) -> list[Path]:
        if not self.directory:
            return []
        logs = [self.directory / "log" / f"{name}log" for name in ("main", "reject", "panic")]
        return [*super()._log_files(), *logs]

    def _headers(self) -> list[Path]:
        """The spool's -H files: Exim renames each into place last, once the message is whole."""
        found = (self.spool / "input").glob("*-H")
        return sorted(found, key=lambda path: (path.stat().st_mtime_ns, path.name))

    def _count(self) -> int:
        return len(self._headers())

    def messages(self) -> list[ReceivedMessage]:
        return [self._read(path) for path in self._headers()]

    def clear(self) -> None:
        """Forget what was received: with no queue runner, the spool files are ours to remove."""
        for path in self._headers():
            for part in ("-H", "-D"):
                path.with_name(path.name[:-2] + part).unlink(missing_ok=True)

    @staticmethod
    def _read(header_file: Path) -> ReceivedMessage:
        """The message as ``exim -Mvc`` prints it, read from the spool without running Exim."""
        envelope, _, headers = header_file.read_bytes().partition(b"\n\n")
        lines = envelope.decode("utf-8", "replace").split("\n")
        sender = lines[2].strip("<>")
        # "XX" is the empty tree of delivered recipients (here, none ever are); the count follows
        count_line = lines.index("XX") + 1
        recipients = [_spool_recipient(line)
                      for line in lines[count_line + 1:count_line + 1 + int(lines[count_line])]]
        body = header_file.with_name(header_file.name[:-2] + "-D").read_bytes().partition(b"\n")[2]
        return ReceivedMessage(_spool_headers(headers) + b"\n" + body, sender, recipients,
                               id=header_file.name[:-2])


def _spool_recipient(line: str) -> str:
    """A recipient line of a -H file: the address, or the address with DSN data after it."""
    return line.split(" ", 1)[0] if re.search(r" \d+,-?\d+#\d+$", line) else line


def _spool_headers(text: bytes) -> bytes:
    """The live headers of a -H file; each is stored as <length><flag> <text>, '*' if deleted."""
    headers, position = [], 0
    while match := _SPOOL_HEADER.match(text, position):
        start = match.end()
        end = start + int(match.group(1))
        if match.group(2) != b"*":
            headers.append(text[start:end])
        position = end
    return b"".join(headers)


# --- the reaper ---------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _reap(parent: int, directory: str, command: list[str]) -> int:
    """Run ``command`` and collect every process it ever forks, then exit with its status.

    Postfix's master passes SIGTERM on to its daemons and exits at once; Exim's
    daemon leaves its connection handlers running. Orphans go to the nearest
    subreaper, else to PID 1, which on some machines (containers) never
    collects them: they stay as zombies. As their subreaper we collect them all,
    ending the stragglers once the main process is gone. PR_SET_PDEATHSIG ends
    the whole tree if the test process dies without calling stop(); the
    instance's ``directory`` is then removed here, as no one else will.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        return 1
    main: list[int] = []

    def forward(*_) -> None:
        for pid in main:
            _signal_quietly(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # held until main exists
    main.append(os.posix_spawn(command[0], command, os.environ, setsigmask=(),
                               setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM)))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    status = _wait_for_main(main[0])
    _collect_children()
    if os.getppid() != parent:
        shutil.rmtree(directory, ignore_errors=True)
    return status


def _wait_for_main(pid: int) -> int:
    while True:
        reaped, status = os.wait()
        if reaped == pid:
            return os.waitstatus_to_exitcode(status)


def _children() -> list[int]:
    own = os.getpid()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == own:
            found.append(int(stat.parent.name))
    return found


def _collect_children(grace: float = 5.0) -> None:
    """Collect what is left: SIGTERM first, SIGKILL after ``grace`` seconds."""
    for pid in _children():
        _signal_quietly(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = False
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if reaped:
            continue
        if not killed and time.monotonic() > deadline:
            for pid in _children():
                _signal_quietly(pid, signal.SIGKILL)
            killed = True
        time.sleep(POLL_INTERVAL)


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


# --- pytest fixtures ------------------------------------------------------------

try:
    import pytest
except ImportError:  # the provisioner's system Python: no fixtures needed there
    pytest = None

if pytest is not None:
    _SERVERS = pytest.StashKey[dict]()

    def _shared_server(request, server_class: type[_MailServer]) -> _MailServer:
        """One server of this kind for the whole run, stopped when the run ends."""
        servers = request.config.stash.setdefault(_SERVERS, {})
        if server_class not in servers:
            server = server_class()
            request.config.add_cleanup(server.stop)
            servers[server_class] = server.start()
        server = servers[server_class]
        server.clear()
        return server

    @pytest.fixture
    def postfix_server(request) -> PostfixServer:
        """The run's private Postfix, its Maildir and queue emptied for this test."""
        return _shared_server(request, PostfixServer)

    @pytest.fixture
    def exim_server(request) -> EximServer:
        """The run's queue-only Exim, its spool emptied for this test."""
        return _shared_server(request, EximServer)


if __name__ == "__main__" and sys.argv[1:2] == ["reap"]:
    sys.exit(_reap(int(sys.argv[2]), sys.argv[3], sys.argv[5:]))
