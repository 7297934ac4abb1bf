"""An SMTP sink that takes a fixed time over each letter, as a real relay does, in a process
of its own.

``python -m bench.slow_sink PORT DELAY_MS`` answers every letter's end of DATA after
DELAY_MS, serving any number of connections at once (asyncio), and speaks only as
much SMTP as a sender needs, so that it costs far less than the delay and the
delay, not the sink, bounds each connection. On SIGTERM it prints how many letters
it took, to how many distinct recipients, and the times of the first and last.
"""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

from bench.common import free_port

PYTHON = sys.executable


class _Tally:
    def __init__(self) -> None:
        self.letters = 0
        self.recipients: set[str] = set()
        self.first = self.last = 0.0


async def _serve(reader, writer, tally: _Tally, delay: float) -> None:
    writer.write(b"220 slow-sink ESMTP\r\n")
    recipients: list[str] = []
    while line := await reader.readline():
        command = line[:4].upper()
        if command in (b"EHLO", b"HELO"):
            writer.write(b"250-slow-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
        elif command == b"RCPT":
            recipients.append(line[8:].strip(b"<> \r\n").decode(errors="replace"))
            writer.write(b"250 OK\r\n")
        elif command == b"DATA":
            writer.write(b"354 go on\r\n")
            await writer.drain()
            while await reader.readline() not in (b".\r\n", b""):
                pass
            await asyncio.sleep(delay)
            now = time.time()
            tally.letters += 1
            tally.recipients.update(recipients)
            tally.first = tally.first or now
            tally.last = now
            recipients = []
            writer.write(b"250 2.0.0 queued\r\n")
        elif command == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:  # MAIL, RSET, NOOP
            recipients = [] if command in (b"MAIL", b"RSET") else recipients
            writer.write(b"250 OK\r\n")
        await writer.drain()
    writer.close()


async def _main(port: int, delay: float) -> None:
    tally = _Tally()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(lambda r, w: _serve(r, w, tally, delay), "127.0.0.1", port,
                                        backlog=512)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    print(tally.letters, len(tally.recipients), f"{tally.first:.6f}", f"{tally.last:.6f}", flush=True)


class SlowSink:
    """The sink as a child process: ``with SlowSink(5) as sink: ...``; ``sink.result`` after."""

    def __init__(self, delay_ms: float) -> None:
        self.port, self.delay_ms = free_port(), delay_ms
        self.letters = self.recipients = 0
        self.first = self.last = 0.0

    def __enter__(self) -> SlowSink:
        self._process = subprocess.Popen([PYTHON, "-m", "bench.slow_sink", str(self.port),
                                          str(self.delay_ms)], stdout=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("the slow sink did not start")
        self.pid = self._process.pid
        return self

    def __exit__(self, *exc) -> None:
        self._process.terminate()
        letters, recipients, first, last = self._process.communicate(timeout=30)[0].split()
        self.letters, self.recipients = int(letters), int(recipients)
        self.first, self.last = float(first), float(last)

    @property
    def rate(self) -> float:
        """Letters a second between the first letter and the last."""
        return (self.letters - 1) / (self.last - self.first) if self.letters > 1 else 0.0


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), float(sys.argv[2]) / 1000))
