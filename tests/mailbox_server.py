"""A real mailbox server and a Postfix that bounces into it, for the bounce-processing tests.

- ``DovecotServer``: Debian's Dovecot as a private instance (its own config file, base_dir,
  state_dir and log in a temporary directory, no system configuration read) serving IMAP
  and POP3 (plaintext logins, no TLS) and taking mail over LMTP, each on a 127.0.0.1 free
  port. Its users come from a passwd-file: ``bounces`` (the bounce mailbox), ``alice`` (a
  normal mailbox), ``full`` (over quota: LMTP answers 552 5.2.2) and ``soft`` (over quota,
  answered as temporary: 452 4.2.2); any other local part is unknown (550 5.1.1).
- ``BouncingPostfix``: the strict private Postfix of tests/mail_servers.py, accepting for any
  sender, handing ``dest.test`` to that Dovecot over LMTP and delivering ``mailer.test``
  (``bounces+<token>@mailer.test``, recipient_delimiter ``+``) into the Dovecot ``bounces``
  Maildir with its virtual(8) agent. Dovecot refuses at delivery time, after Postfix
  accepted the message over SMTP, so Postfix itself writes the RFC 3464 delivery status
  notifications (multipart/report) to the envelope sender, at once, and a "delayed" one
  for ``soft`` within seconds.
- ``BounceWorld``: the two together, as the ``bounce_world`` fixture gives them to a test.

Both servers run under the reaper of tests/mail_servers.py: nothing outlives ``stop()``.

Everything above the fixtures imports only the standard library (and the standard-library
part of tests/mail_servers.py), because tests/provision.py reads the paths here with the
system Python, before the venv exists.
"""
from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from tests.mail_servers import (
    HOST,
    POLL_INTERVAL,
    PostfixServer,
    ReceivedMessage,
    _MailServer,
    _write_settled,
    free_port,
    greets,
)

DOVECOT_PACKAGES = ("dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd")
DOVECOT_BINARY = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
DOVECOT_PROGRAMS = tuple(Path("/usr/lib/dovecot") / name for name in ("imap", "pop3", "lmtp"))
QUOTA_PLUGIN = Path("/usr/lib/dovecot/modules/lib10_quota_plugin.so")
DOVECOT_USERS = ("dovecot", "dovenull")  # default_internal_user and default_login_user
MAILBOX_OWNER = "nobody"  # owns every Maildir; Postfix's virtual agent writes as it too

DEST_DOMAIN = "dest.test"  # the recipients' domain: its mail server is the Dovecot
BOUNCE_DOMAIN = "mailer.test"  # the envelope senders' domain: bounces+<token>@mailer.test
BOUNCE_USER = "bounces"
BOUNCE_PASSWORD = "bounce-password"
OVER_QUOTA = "userdb_quota_rule=*:storage=1B"  # any message is over: the mailbox is full
# user -> passwd-file extra fields (per-user settings: quota_* override the plugin's)
MAILBOX_USERS = {
    BOUNCE_USER: "",
    "alice": "",
    "full": OVER_QUOTA,  # permanent: 552 5.2.2
    "soft": f"{OVER_QUOTA} userdb_quota_full_tempfail=yes",  # temporary: 452 4.2.2
}


def password_of(user: str) -> str:
    return BOUNCE_PASSWORD if user == BOUNCE_USER else f"{user}-password"


def _imap_banner(port: int) -> bool:
    return greets(port, b"* OK", b"a LOGOUT\r\n")


def _more_free_ports(taken: int, count: int) -> list[int]:
    """``count`` more loopback ports free right now, distinct from each other and ``taken``."""
    ports = [taken]
    while len(ports) <= count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports[1:]


class DovecotServer(_MailServer):
    """A private Dovecot: IMAP, POP3 and LMTP on free loopback ports, Maildirs in its directory.

    ``dovecot -F -c <dir>/dovecot.conf`` runs as root, its master in the foreground under the
    reaper; it reads no system configuration (base_dir, state_dir and log_path are all in
    the directory). The mail processes run as ``nobody`` (mail_uid/mail_gid), every user's
    home is ``<dir>/mail/<user>`` and mailbox ``~/Maildir``. Users log in with their bare
    name (``bounces``); LMTP recipients are mapped the same way (auth_username_format %Ln
    drops the domain, recipient_delimiter ``+`` the detail). The quota plugin (count
    backend) runs for every user, unlimited but for the per-user rules of ``full`` and
    ``soft``; quota_full_tempfail makes ``soft``'s refusal temporary. A wrong password is
    refused at once: no auth_failure_delay, no anvil penalty (which grows to 15 s a try).
    ``port`` is IMAP's; the TLS listeners (imaps, pop3s) are off.
    """

    kind = "Dovecot"
    bounce_user = BOUNCE_USER
    bounce_password = BOUNCE_PASSWORD

    def __init__(self) -> None:
        super().__init__(line_limit=None)
        self.pop3_port = 0
        self.lmtp_port = 0

    @property
    def imap_port(self) -> int:
        return self.port

    @property
    def config_file(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def mail_root(self) -> Path:
        return self.directory / "mail"

    def maildir(self, user: str) -> Path:
        return self.mail_root / user / "Maildir"

    @property
    def bounce_maildir(self) -> Path:
        return self.maildir(BOUNCE_USER)

    def _prepare(self) -> None:
        self.pop3_port, self.lmtp_port = _more_free_ports(self.port, 2)
        owner = pwd.getpwnam(MAILBOX_OWNER)
        for name in ("run", "state"):
            (self.directory / name).mkdir()
        subdirectories = [self.bounce_maildir / sub for sub in ("cur", "new", "tmp")]
        for path in (self.mail_root, self.bounce_maildir.parent, self.bounce_maildir,
                     *subdirectories):  # made now: Postfix and Dovecot never race to make it
            path.mkdir()
            os.chown(path, owner.pw_uid, owner.pw_gid)
        (self.directory / "users").write_text(self._passwd_file())
        self.config_file.write_text(self._configuration(owner))

    @staticmethod
    def _passwd_file() -> str:
        """user:{PLAIN}password:uid:gid:gecos:home:shell:extra fields (uid, gid, home: defaults)."""
        return "".join(f"{user}:{{PLAIN}}{password_of(user)}::::::{extra}\n"
                       for user, extra in MAILBOX_USERS.items())

    def _configuration(self, owner: pwd.struct_passwd) -> str:
        users = self.directory / "users"
        return f"""\
base_dir = {self.directory}/run
state_dir = {self.directory}/state
log_path = {self.directory}/dovecot.log
protocols = imap pop3 lmtp
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
auth_verbose = yes
auth_failure_delay = 0
mail_uid = {owner.pw_uid}
mail_gid = {owner.pw_gid}
mail_location = maildir:~/Maildir
mail_plugins = quota
recipient_delimiter = +
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
  default_fields = home={self.mail_root}/%n
}}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_full_tempfail = no
}}
{_listener("imap-login", "imap", self.port, "imaps")}
{_listener("pop3-login", "pop3", self.pop3_port, "pop3s")}
{_listener("lmtp", "lmtp", self.lmtp_port)}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def _command(self) -> list[str]:
        return [str(DOVECOT_BINARY), "-F", "-c", str(self.config_file)]

    def _greets(self) -> bool:
        return _imap_banner(self.port)

    def _log_files(self) -> list[Path]:
        return [*super()._log_files(), self.directory / "dovecot.log"] if self.directory else []

    # --- the bounce mailbox ---

    def bounce_messages(self) -> list[bytes]:
        """The messages in the bounce Maildir (new/ and cur/), oldest first."""
        return [raw for _, raw in _read_maildir(self.bounce_maildir)]

    def wait_for_bounces(self, count: int, timeout: float = 30.0) -> list[bytes]:
        """The bounce mailbox's messages, once there are at least ``count``."""
        return [message.raw for message in self.wait_for(count, timeout)]

    def _count(self) -> int:
        return len(_maildir_files(self.bounce_maildir))

    def messages(self) -> list[ReceivedMessage]:
        return [ReceivedMessage(raw, id=name) for name, raw in _read_maildir(self.bounce_maildir)]

    def clear(self) -> None:
        """Empty every user's mailbox, by Dovecot itself (``doveadm expunge``).

        Not by removing the files: Dovecot may miss a removal within the second of its last
        look at the Maildir, and then lists a message it can no longer read.
        """
        if self.directory is None:
            return
        done = subprocess.run([str(DOVEADM), "-c", str(self.config_file), "expunge", "-A",
                               "mailbox", "INBOX", "all"],
                              capture_output=True, text=True, env=self._environment())
        if done.returncode:
            raise RuntimeError(f"doveadm expunge failed: {(done.stderr or done.stdout).strip()}")


def _listener(service: str, name: str, port: int, disabled: str | None = None) -> str:
    """A service block listening on HOST:port (and, for a TLS twin, on no port at all)."""
    off = f"  inet_listener {disabled} {{\n    port = 0\n  }}\n" if disabled else ""
    return (f"service {service} {{\n  inet_listener {name} {{\n    address = {HOST}\n"
            f"    port = {port}\n  }}\n{off}}}")


def _maildir_files(maildir: Path) -> dict[str, Path]:
    """A Maildir's messages by unique name (the file name up to ":2,", which survives
    Dovecot's move from new/ to cur/, so a message caught in both is counted once)."""
    found: dict[str, Path] = {}
    for sub in ("new", "cur"):
        directory = maildir / sub
        names = os.listdir(directory) if directory.is_dir() else []
        for name in names:
            found.setdefault(name.split(":", 1)[0], directory / name)
    return found


def _read_maildir(maildir: Path) -> list[tuple[str, bytes]]:
    """(unique name, text) of each message, oldest first; a file moved meanwhile is re-found."""
    while True:
        try:
            files = sorted(_maildir_files(maildir).items(),
                           key=lambda item: (item[1].stat().st_mtime_ns, item[0]))
            return [(name, path.read_bytes()) for name, path in files]
        except FileNotFoundError:
            continue


class BouncingPostfix(PostfixServer):
    """The strict private Postfix, delivering ``dest.test`` to a Dovecot and bouncing into it.

    ``dest.test`` is a relay domain (any recipient accepted over SMTP) whose transport is
    ``lmtp:inet:127.0.0.1:<the Dovecot's LMTP port>``: Dovecot refuses unknown and over-quota
    recipients at delivery time, and Postfix, having accepted the message, writes a DSN to the
    envelope sender. ``mailer.test`` is a virtual mailbox domain with one mailbox, ``bounces``,
    the Dovecot user's Maildir (virtual_mailbox_base is the Dovecot's mail root; both write as
    ``nobody``); with recipient_delimiter ``+``, ``bounces+<anything>@mailer.test`` lands
    there, with X-Original-To and Delivered-To naming the full address. Other domains are
    refused at delivery (the parent's ``error:`` default transport), also with a DSN.

    The queue is retried every second or two, and ``delay_warning_time`` is 2 s, so a
    deferred message (``soft@dest.test``) brings a "delayed" DSN within a few seconds; it
    stays deferred (retried) until ``clear()``.
    """

    kind = "Postfix-bouncing"  # also names its directory: no spaces

    def __init__(self, dovecot: DovecotServer) -> None:
        super().__init__()
        self.dovecot = dovecot

    def _prepare(self) -> None:
        super()._prepare()
        transport = f"lmtp:inet:{HOST}:{self.dovecot.lmtp_port}"
        _write_settled(self.config_directory / "transport", f"{DEST_DOMAIN} {transport}\n")
        _write_settled(self.config_directory / "mailboxes",  # as new, they too are waited for
                       f"{BOUNCE_USER}@{BOUNCE_DOMAIN} {BOUNCE_USER}/Maildir/\n")

    def _settings(self, owner: pwd.struct_passwd) -> dict[str, object]:
        return {
            **super()._settings(owner),
            "relay_domains": DEST_DOMAIN,
            "transport_maps": f"texthash:{self.config_directory}/transport",
            "virtual_mailbox_domains": BOUNCE_DOMAIN,
            "virtual_mailbox_base": self.dovecot.mail_root,
            "virtual_mailbox_maps": f"texthash:{self.config_directory}/mailboxes",
            "recipient_delimiter": "+",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "delay_warning_time": "2s",
            "maximal_queue_lifetime": "1h",
            "bounce_queue_lifetime": "1h",
        }

    def _master_cf(self) -> str:
        return super()._master_cf() + "lmtp unix - - n - - lmtp\n"

    def queued(self) -> int:
        """How many messages (DSNs included) Postfix still holds: 0 once all is delivered or
        bounced, as a DSN enters the queue before the message it reports on leaves it."""
        queue = self.directory / "queue"
        while True:
            try:
                return sum(1 for name in ("maildrop", "incoming", "active", "deferred", "hold")
                           for path in (queue / name).rglob("*") if path.is_file())
            except FileNotFoundError:  # a file went while we looked
                continue


class BounceWorld:
    """A mail world where bounces really happen: a ``BouncingPostfix`` and its ``DovecotServer``.

    A test sends to ``smtp_port`` (MAIL FROM ``bounces+<token>@mailer.test``); mail for
    ``alice@dest.test`` is delivered, for ``full@dest.test`` (5.2.2) and any unknown
    ``@dest.test`` (5.1.1) bounced, for ``soft@dest.test`` deferred with a "delayed" DSN;
    the DSNs land in the ``dovecot``'s bounce mailbox, read with ``wait_for_bounces`` or over
    IMAP/POP3 (``dovecot.imap_port``, ``dovecot.pop3_port``, ``dovecot.bounce_user``,
    ``dovecot.bounce_password``).
    """

    def __init__(self) -> None:
        self.dovecot = DovecotServer()
        self.postfix = BouncingPostfix(self.dovecot)

    def __enter__(self) -> BounceWorld:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def smtp_port(self) -> int:
        return self.postfix.port

    def start(self) -> BounceWorld:
        try:
            self.dovecot.start()
            self.postfix.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.postfix.stop()
        self.dovecot.stop()

    def bounce_messages(self) -> list[bytes]:
        return self.dovecot.bounce_messages()

    def wait_for_bounces(self, count: int, timeout: float = 30.0, nudge: bool = False) -> list[bytes]:
        """The bounce mailbox's messages once there are at least ``count`` (Postfix's log in
        the failure message, as its queue is where a missing DSN would be).

        ``nudge``: every 2 s, have Postfix retry its deferred mail (``postqueue -f``). A delay
        warning comes only with a retry, and on a busy machine the queue manager was once seen
        to leave a deferred message alone for over 30 s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                return self.dovecot.wait_for_bounces(count, min(2.0, max(left, 0.1)) if nudge else timeout)
            except AssertionError as error:
                if not nudge or time.monotonic() >= deadline:
                    raise AssertionError(f"{error}\nPostfix's log:\n{self.postfix._log_tail()}") from None
                self.postfix.flush()

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Until Postfix holds no message: every one delivered or bounced, every DSN delivered."""
        deadline = time.monotonic() + timeout
        while self.postfix.queued():
            if time.monotonic() > deadline:
                raise AssertionError(f"Postfix still holds {self.postfix.queued()} messages after "
                                     f"{timeout:g} s; its log:\n{self.postfix._log_tail()}")
            time.sleep(POLL_INTERVAL)

    def clear(self) -> None:
        """Drop whatever Postfix still holds (deferred mail), then empty every mailbox."""
        self.postfix.clear()
        self.dovecot.clear()


# --- pytest fixture ---------------------------------------------------------------

try:
    import pytest
except ImportError:  # the provisioner's system Python: no fixtures needed there
    pytest = None

if pytest is not None:
    _WORLD = pytest.StashKey[BounceWorld]()

    @pytest.fixture
    def bounce_world(request) -> BounceWorld:
        """The run's bouncing Postfix and Dovecot (started once), emptied for this test."""
        world = request.config.stash.get(_WORLD, None)
        if world is None:
            world = BounceWorld()
            request.config.add_cleanup(world.stop)
            request.config.stash[_WORLD] = world.start()
        world.clear()
        return world
