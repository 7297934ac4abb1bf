"""Postfix's ``smtp-sink``: a server made for benchmarks (accepts everything, stores nothing,
written in C), so the sender, not the sink, is what is measured.

The aiosmtpd sink tops out at about 520 messages a second on our machines
whoever sends; a bare loop pushes about 3,000 a second into smtp-sink.
"""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from bench.common import free_port

SMTP_SINK = Path("/usr/sbin/smtp-sink")  # Debian's postfix package (make test installs it)


class PostfixSmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "PostfixSmtpSink":
        if not SMTP_SINK.exists():
            raise RuntimeError(f"{SMTP_SINK} is missing: install Debian's postfix (make test does)")
        self._process = subprocess.Popen([str(SMTP_SINK), "-u", "nobody", f"127.0.0.1:{self.port}", "256"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError(f"smtp-sink exited: {self._process.stderr.read().decode()}") from None
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start within 10 s")

    def __exit__(self, *exc) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
