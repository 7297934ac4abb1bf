"""A counting SMTP sink (aiosmtpd on loopback): accepts everything, keeps only the count
and the recipients, so the sink costs the same whoever sends to it."""
from __future__ import annotations

import threading
import time

from aiosmtpd.controller import Controller

from bench.common import free_port


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.recipients: set[str] = set()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


class CountingSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.counter = _Counter()
        self._controller = Controller(self.counter, hostname="127.0.0.1", port=self.port,
                                      data_size_limit=10_000_000)

    def __enter__(self) -> "CountingSink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def reset(self) -> None:
        with self.counter.lock:
            self.counter.messages = 0
            self.counter.recipients = set()

    @property
    def messages(self) -> int:
        return self.counter.messages

    def distinct_recipients(self) -> int:
        with self.counter.lock:
            return len(self.counter.recipients)

    def wait_for(self, count: int, seconds: float = 30) -> int:
        deadline = time.monotonic() + seconds
        while self.messages < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages
