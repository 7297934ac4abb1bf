"""The web under a real server: gunicorn (2 workers) and wrk on loopback, pages against /healthz.

/healthz (no database, no template) is the baseline: what the server, the
loopback and the load generator cost on this machine. Each page's requests
per second are compared with it, measured in the same run: /healthz first,
the pages, /healthz again, and the mean of the two /healthz runs is the
baseline. The owner whose lists are loaded has 10,000 clients and 20 mailings
(to all of them); the blog has 12 articles. The tables are vacuumed and
analysed after loading, as autovacuum would have done by then in production
(without statistics PostgreSQL plans the lists for a handful of rows).
Each URL gets a one-second warm-up first, and the server a pause between runs
to finish what the previous run left queued.
"""
from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench import common
from bench.common import Context, Figure

OWNER, EDITOR = "owner@web.example.com", "editor@web.example.com"
CONNECTIONS, THREADS = 32, 2
PAUSE = 1.0  # seconds between runs
# (page, signed in as the owner?, target ratio to /healthz)
PAGES = [
    ("/", False, 0.5),
    ("/blog/", False, 0.5),
    ("/clients/", True, 0.3),
    ("/mailings/", True, 0.3),
]


# --- the data ------------------------------------------------------------------------------

def seed(url: str, tmp: Path, clients: int) -> None:
    from mailer.extensions import db
    from mailer.models import Post, utcnow

    app = common.make_app(url, tmp)
    with app.app_context():
        owner = common.add_user(OWNER)
        editor = common.add_user(EDITOR, role="content_manager")
        common.add_clients(owner.id, clients)
        now = utcnow()
        for n in range(20):
            common.add_mailing(owner, start=now - timedelta(days=n), end=now + timedelta(days=30),
                               subject=f"News {n} for {{{{ client.full_name }}}}",
                               status=("created", "running", "paused")[n % 3])
        db.session.add_all(
            Post(title=f"Article {n}", body=f"Article {n}: what is new this week.\n\n" * 20,
                 published_at=now - timedelta(days=n + 1), author=editor)
            for n in range(12))
        db.session.commit()
        db.engine.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


# --- the server ----------------------------------------------------------------------------

def get(port: int, path: str, cookie: str = "", method: str = "GET", body: str | None = None):
    """(status, headers, text) of one request; no redirect is followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@contextmanager
def gunicorn(url: str, tmp: Path, args: tuple[str, ...] = ()):
    """``gunicorn wsgi:app`` with 2 workers on a free port; yields the port, stops it afterwards.

    ``args`` are more of gunicorn's options (bench/scale.py: a longer ``--timeout`` for exports)."""
    port = common.free_port()
    log = open(tmp / "gunicorn.log", "wb")
    process = subprocess.Popen(
        # --no-control-socket: its default path is the same for every gunicorn on the machine
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket", *args, "wsgi:app"],
        cwd=common.ROOT, env=common.environment(url, tmp), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({process.returncode}); "
                                   f"see {tmp / 'gunicorn.log'}")
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def _session_of(headers, fallback: str = "") -> str:
    cookie = SimpleCookie()
    for line in headers.get_all("Set-Cookie") or []:
        cookie.load(line)
    return f"session={cookie['session'].value}" if "session" in cookie else fallback


def sign_in(port: int, email: str) -> str:
    """The ``Cookie`` header of a signed-in session, got as a browser gets it."""
    status, headers, page = get(port, "/auth/login")
    cookie = _session_of(headers)
    token = CSRF_RE.search(page).group(1)
    form = urlencode({"email": email, "password": common.PASSWORD, "csrf_token": token})
    status, headers, _ = get(port, "/auth/login", cookie, "POST", form)
    if status != 302 or "/auth/login" in headers.get("Location", ""):
        raise RuntimeError(f"signing in as {email} failed: {status} {headers.get('Location')}")
    return _session_of(headers, cookie)


# --- the load ------------------------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(port: int, path: str, seconds: int, cookie: str, timeout: int | None = None) -> dict:
    """One wrk run: req/s, mean and p99 latency (ms), errors (socket errors and non-2xx/3xx).

    ``timeout`` (s) replaces wrk's own 2 s, after which a response counts as an error and
    not in the latencies (bench/scale.py: pages that take longer than that at 100,000 clients).
    """
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if timeout is not None:
        command.append(f"--timeout={timeout}s")
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                            text=True, check=True, timeout=seconds + (timeout or 0) + 60).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "mean_ms": _ms(re.search(r"^\s+Latency\s+(\S+)", output, re.M).group(1)),
            "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
            "requests": int(re.search(r"(\d+) requests in", output).group(1)),
            "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0)}


def python_load(port: int, path: str, seconds: int, cookie: str) -> dict:
    """The fallback when wrk is missing: CONNECTIONS threads, each on one keep-alive connection."""
    latencies, errors, stop = [], [0], time.monotonic() + seconds
    lock = threading.Lock()
    headers = {"Cookie": cookie} if cookie else {}

    def worker():
        conn, mine, failed = http.client.HTTPConnection("127.0.0.1", port, timeout=30), [], 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                failed += response.status >= 400
                mine.append(time.perf_counter() - started)
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    rps = len(latencies) / (time.monotonic() - started)
    return {"rps": rps, "p99_ms": p99, "errors": errors[0]}


def ensure_wrk() -> str | None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True)
    return shutil.which("wrk")


# --- the benchmark -------------------------------------------------------------------------

def run(ctx: Context) -> list[Figure]:
    seconds, clients = (3, 2_000) if ctx.quick else (10, 10_000)
    load, generator = (wrk, f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s") if ensure_wrk() else \
        (python_load, f"wrk missing: Python http.client load, {CONNECTIONS} threads, {seconds} s")
    with common.throwaway_database() as url:
        seed(url, ctx.tmp, clients)
        with gunicorn(url, ctx.tmp) as port:
            cookie = sign_in(port, OWNER)
            for path, signed_in, _target in PAGES:
                status, headers, _ = get(port, path, cookie if signed_in else "")
                if status != 200:  # a redirect to /auth/login: the cookie does not sign in
                    raise RuntimeError(f"{path} answers {status} {headers.get('Location', '')}")
            # Warm-up: both workers, every template.
            for path, signed_in, _target in [("/healthz", False, None), *PAGES]:
                load(port, path, 1, cookie if signed_in else "")

            def measure(path: str, signed_in: bool) -> dict:
                time.sleep(PAUSE)
                return load(port, path, seconds, cookie if signed_in else "")

            first = measure("/healthz", False)
            results = {path: measure(path, signed_in) for path, signed_in, _target in PAGES}
            last = measure("/healthz", False)

    healthz = (first["rps"] + last["rps"]) / 2
    baseline = "/healthz rps (mean of the runs before and after the pages)"
    setup = f"gunicorn 2 workers, {generator}; owner with {clients:,} clients, 20 mailings"
    healthz_errors = first["errors"] + last["errors"]
    figures = [Figure(bench="web", name="rps /healthz", value=round(healthz, 1), unit="req/s",
                      target="0 errors", met=healthz_errors == 0,
                      note=f"runs: {first['rps']:.0f} and {last['rps']:.0f} req/s; "
                           f"p99 {first['p99_ms']:.1f} and {last['p99_ms']:.1f} ms; "
                           f"errors {healthz_errors}; {setup}")]
    for path, signed_in, target in PAGES:
        result = results[path]
        ratio = result["rps"] / healthz
        note = f"p99 {result['p99_ms']:.1f} ms, errors {result['errors']}"
        if signed_in:
            note += " (signed in)"
        if result["errors"]:
            note += "; ERRORS SEEN: zero is a target too"
        if load is python_load:
            note += f"; {generator}"
        figures.append(Figure(bench="web", name=f"rps {path}", value=round(result["rps"], 1),
                              unit="req/s", baseline=baseline, baseline_value=round(healthz, 1),
                              ratio=round(ratio, 3), target=f">= {target}",
                              met=ratio >= target and result["errors"] == 0, note=note))
    for path, result in [("/healthz", first), *results.items()]:
        figures.append(Figure(bench="web", name=f"p99 {path}", value=round(result["p99_ms"], 1),
                              unit="ms", note=f"{generator}, {CONNECTIONS} connections"))
    return figures


if __name__ == "__main__":
    for figure in run(Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
