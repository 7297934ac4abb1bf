"""A bounded load test: a real server under 200 concurrent connections, mixed pages, no 5xx.

gunicorn (2 workers, production settings) on a throwaway PostgreSQL database,
seeded as ``bench.web`` seeds it: an owner with 10,000 clients (--quick: 1,000),
20 mailings to all of them, 12 blog posts. wrk (-t2 -c200, 30 s; --quick: 5 s;
--timeout 10s) on loopback sends, round-robin per request, the home page, the
blog, the sign-in page and the owner's two lists (with the owner's session
cookie; the other paths go without it). A small Lua script picks the path and
counts the responses by status class in every wrk thread; its ``done()`` adds
them up, so the number of 5xx responses is exact. wrk's own summary gives the
non-2xx/3xx count and the socket errors and timeouts. Afterwards the server's
log is searched for tracebacks, "Internal Server Error" and worker timeouts.

The run is bounded: wrk stops after its -d, the wrk process is killed past
duration + 60 s, and gunicorn is terminated in a ``finally``.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, web
from bench.common import Context, Figure

CONNECTIONS, THREADS, TIMEOUT_S = 200, 2, 10
# (path, sent with the owner's session cookie?)
MIX = [
    ("/", False),
    ("/blog/", False),
    ("/auth/login", False),
    ("/clients/", True),
    ("/mailings/", True),
]
# What in the server's log means a request went wrong.
LOG_PROBLEMS = {
    "traceback": re.compile(r"Traceback \(most recent call last\)"),
    "internal server error": re.compile(r"Internal Server Error", re.I),
    "worker timeout": re.compile(r"WORKER TIMEOUT", re.I),
}

LUA = """\
-- Written by bench/load.py: the paths round-robin per request, status classes counted.
local paths = {%(paths)s}
local signed_in = {%(signed_in)s}
local cookie = "%(cookie)s"
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   next_path = 0
   responses, s2xx, s3xx, s4xx, s5xx, other = 0, 0, 0, 0, 0, 0
end

request = function()
   next_path = next_path %% #paths + 1
   local headers = {}
   if signed_in[next_path] then
      headers["Cookie"] = cookie
   end
   return wrk.format("GET", paths[next_path], headers)
end

function response(status, headers, body)
   responses = responses + 1
   if status >= 500 then s5xx = s5xx + 1
   elseif status >= 400 then s4xx = s4xx + 1
   elseif status >= 300 then s3xx = s3xx + 1
   elseif status >= 200 then s2xx = s2xx + 1
   else other = other + 1 end
end

function done(summary, latency, requests)
   local total = {responses = 0, s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0, other = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(total) do
         total[name] = total[name] + (thread:get(name) or 0)
      end
   end
   io.write(string.format(
      "lua: responses %%d 2xx %%d 3xx %%d 4xx %%d 5xx %%d other %%d\\n",
      total.responses, total.s2xx, total.s3xx, total.s4xx, total.s5xx, total.other))
end
"""


def lua_script(cookie: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._=-]+", cookie):  # goes into a Lua string literal as is
        raise RuntimeError(f"unexpected characters in the session cookie: {cookie!r}")
    return LUA % {"paths": ", ".join(f'"{path}"' for path, _ in MIX),
                  "signed_in": ", ".join("true" if signed else "false" for _, signed in MIX),
                  "cookie": cookie}


def load(port: int, seconds: int, script: Path) -> dict:
    """One wrk run with the script; its figures, and its whole output."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
               "--timeout", f"{TIMEOUT_S}s", "-s", str(script), f"http://127.0.0.1:{port}/"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    output = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip() or output}")
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    connect, read, write, timeout = map(int, socket.groups()) if socket else (0, 0, 0, 0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    lua = re.search(r"lua: responses (\d+) 2xx (\d+) 3xx (\d+) 4xx (\d+) 5xx (\d+) other (\d+)",
                    output)
    if lua is None:
        raise RuntimeError(f"the wrk script's totals are missing from its output:\n{output}")
    responses, s2xx, s3xx, s4xx, s5xx, other = map(int, lua.groups())
    return {"requests": int(re.search(r"(\d+) requests in ", output).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p99_ms": web._ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
            "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
            "connect": connect, "read": read, "write": write, "timeout": timeout,
            "responses": responses, "2xx": s2xx, "3xx": s3xx, "4xx": s4xx, "5xx": s5xx,
            "other": other, "output": output}


def log_problems(log: Path) -> dict:
    text = log.read_text(errors="replace") if log.exists() else ""
    return {name: len(pattern.findall(text)) for name, pattern in LOG_PROBLEMS.items()}


def run(ctx: Context) -> list[Figure]:
    seconds, clients = (5, 1_000) if ctx.quick else (30, 10_000)
    if web.ensure_wrk() is None:
        raise RuntimeError("wrk is needed (Debian's package wrk)")
    tmp = ctx.tmp / "load"  # a log and a script of its own, beside bench.web's
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "gunicorn.log"  # what web.gunicorn writes the server's output to
    with common.throwaway_database() as url:
        web.seed(url, tmp, clients)
        with web.gunicorn(url, tmp) as port:
            cookie = web.sign_in(port, web.OWNER)
            for path, signed_in in MIX:  # every path answers, and the cookie signs in
                status, headers, _ = web.get(port, path, cookie if signed_in else "")
                if status != 200:
                    raise RuntimeError(f"{path} answers {status} {headers.get('Location', '')}")
            script = tmp / "mix.lua"
            script.write_text(lua_script(cookie))
            result = load(port, seconds, script)
    (tmp / "wrk.txt").write_text(result["output"])
    problems = log_problems(log)

    mix = ", ".join(path + (" (signed in)" if signed else "") for path, signed in MIX)
    setup = (f"gunicorn 2 workers; wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s "
             f"--timeout {TIMEOUT_S}s on loopback; round-robin over {mix}; "
             f"owner with {clients:,} clients, 20 mailings, 12 posts")
    statuses = (f"responses {result['responses']:,}: 2xx {result['2xx']:,}, "
                f"3xx {result['3xx']:,}, 4xx {result['4xx']:,}, 5xx {result['5xx']:,}; "
                f"wrk's non-2xx/3xx: {result['non_2xx_3xx']:,}")
    if result["3xx"] or result["4xx"] or result["other"]:  # every path answered 200 beforehand
        statuses += "; NOT ALL 2xx: a redirect means the cookie did not sign in"
    socket_errors = result["connect"] + result["read"] + result["write"] + result["timeout"]
    log_count = sum(problems.values())
    return [
        Figure(bench="load", name="requests (mixed pages)", value=result["requests"],
               unit="requests", note=setup),
        Figure(bench="load", name="rps (mixed pages)", value=round(result["rps"], 1),
               unit="req/s", note=f"{CONNECTIONS} connections, {seconds} s"),
        Figure(bench="load", name="p99 (mixed pages)", value=round(result["p99_ms"], 1),
               unit="ms", note=f"{CONNECTIONS} connections, {seconds} s"),
        Figure(bench="load", name="5xx responses", value=result["5xx"], unit="responses",
               target="0", met=result["5xx"] == 0,
               note=statuses + ("" if not result["5xx"] else f"; see {log}")),
        Figure(bench="load", name="socket errors and timeouts", value=socket_errors,
               unit="errors", target="0", met=socket_errors == 0,
               note=f"connect {result['connect']}, read {result['read']}, "
                    f"write {result['write']}, timeout {result['timeout']} "
                    f"(wrk --timeout {TIMEOUT_S}s)"),
        Figure(bench="load", name="server log problems", value=log_count, unit="lines",
               target="0", met=log_count == 0,
               note=", ".join(f"{name} {count}" for name, count in problems.items())
                    + " in gunicorn's log" + (f" ({log})" if log_count else "")),
    ]


if __name__ == "__main__":
    for figure in run(Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
