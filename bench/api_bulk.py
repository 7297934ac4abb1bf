"""The API's bulk upsert of 10,000 clients against the web's CSV import of the same rows.

Data. 10,000 generated clients (``--quick``: 1,000): Cyrillic names, and Latin
ones for a third, mixed-case addresses on five domains (stored in lower case,
as both ways in store them, so sending them again changes nothing), a comment for
about one client in five (Cyrillic with a comma, or Latin with quotes, so the
CSV quotes some cells). The same rows go as the API's JSON
(``{"clients": [...]}``, UTF-8) and as the import's CSV file
(``email,full_name,comment``); their sizes are reported.

Cases, each for both ways in, on one throwaway PostgreSQL database (the app's
migrations): all rows new (all added), the same again (all unchanged), then
every name changed (all updated). Each round takes a new owner for each way in,
and the cases run turn about (API, CSV, API, CSV, ...) so drift in the machine
affects both alike; after the round both owners' clients are deleted and the
table vacuumed, so every round starts from the same table. One round first is a
warm-up and not counted; the figures are the median of 5 rounds (``--quick``: 2).

- In-process, Flask's test client: ``POST /api/v1/clients/bulk`` with a bearer
  token, and ``POST /clients/import`` as a signed-in user, the multipart form
  with the CSRF and progress tokens of the page that shows it (got before the
  clock starts, as a browser has the page before it uploads); the import's
  redirect is not followed, its flash is read afterwards to check the counts.
- Over HTTP, gunicorn with 2 sync workers (as bench/web.py runs it, but with
  ``--timeout 300``: a case slower than gunicorn's default 30 s is measured and
  named in its note instead of its worker being killed), one connection per
  request, the clock from sending to the last byte of the answer.

Where the API's time goes: its requests once more in-process (a new owner a
round; the request of median time, and its parts), with the app's own calls wrapped and timed
inside them: the JSON parse of the body (webargs' ``parse_json``), the marshmallow
load of ``BulkClientsInput`` (``@blp.arguments``), and
``clients.services.upsert_clients``, of which checking the rows
(``csv_io.clean_fields``, email_validator) is timed alone; the rest of the
request is Flask, the token, webargs and the answer. The marshmallow load is
measured against a plain-Python check of the same rules on the same parsed
body (a dict, no unknown key, ``email`` present, every value a string without
NUL, defaults for the rest): what the schema costs per row over the rules it
enforces. The import's own parse and check of its file
(``csv_io.parse_clients``) is in its note. No figure here is a target.
"""
from __future__ import annotations

import csv
import http.client
import io
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench import common, web
from bench.common import Context, Figure

ROWS, QUICK_ROWS = 10_000, 1_000
ROUNDS, QUICK_ROUNDS = 5, 2
CASES = ("added", "unchanged", "updated")
BULK_PATH = "/api/v1/clients/bulk"
IMPORT_PATH = "/clients/import"
DOMAIN = "bulk.example.com"  # the owners' own addresses
# gunicorn's --timeout here, so a slow case is measured rather than its worker killed;
# a case longer than gunicorn's default is named in its note (a 500 under default settings).
WORKER_TIMEOUT, DEFAULT_WORKER_TIMEOUT = 300, 30

SURNAMES = [("Ivanov", "Иванов"), ("Petrova", "Петрова"), ("Smirnov", "Смирнов"),
            ("Kuznetsova", "Кузнецова"), ("Popov", "Попов"), ("Sokolova", "Соколова"),
            ("Lebedev", "Лебедев"), ("Kozlova", "Козлова"), ("Novikov", "Новиков"),
            ("Morozova", "Морозова"), ("Fyodorov", "Фёдоров")]
FIRST_NAMES = [("Ivan", "Иван"), ("Maria", "Мария"), ("Alexei", "Алексей"), ("Olga", "Ольга"),
               ("Dmitry", "Дмитрий"), ("Anna", "Анна"), ("Sergei", "Сергей"), ("Elena", "Елена"),
               ("Yuri", "Юрий")]
DOMAINS = ["Example.com", "example.ORG", "Mail.Example.net", "corp.example.ru", "SHOP.example.com"]

PROGRESS_RE = re.compile(r'name="progress_token"[^>]*?value="([^"]*)"')
DONE_RE = re.compile(r"Import done\. Added: (\d+), updated: (\d+), unchanged: (\d+)\.")


# --- the rows ------------------------------------------------------------------------------

def generated_clients(count: int, renamed: bool = False) -> list[dict]:
    """``count`` clients as a program would send them; ``renamed``: every name changed
    (another surname), the addresses and comments the same."""
    clients = []
    for n in range(1, count + 1):
        latin_first, cyrillic_first = FIRST_NAMES[n % len(FIRST_NAMES)]
        latin, cyrillic = SURNAMES[(n + renamed) % len(SURNAMES)]
        address_latin = SURNAMES[n % len(SURNAMES)][0]
        local = (f"{latin_first}.{address_latin}{n}" if n % 2
                 else f"{latin_first.lower()}.{address_latin.lower()}.{n}")
        name = f"{latin_first} {latin}" if n % 3 == 0 else f"{cyrillic_first} {cyrillic}"
        if n % 7 == 0:
            comment = f"Из выставки, стенд {n % 40}"
        elif n % 11 == 0:
            comment = f'Met at the fair; wants the "weekly" news, table {n % 12}'
        else:
            comment = ""
        clients.append({"email": f"{local}@{DOMAINS[n % len(DOMAINS)]}", "full_name": name,
                        "comment": comment})
    return clients


def json_body(clients: list[dict]) -> bytes:
    return json.dumps({"clients": clients}, ensure_ascii=False).encode("utf-8")


def csv_body(clients: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("email", "full_name", "comment"))
    writer.writerows((c["email"], c["full_name"], c["comment"]) for c in clients)
    return buffer.getvalue().encode("utf-8")


@dataclass
class Bodies:
    rows: int
    json: dict[str, bytes] = field(default_factory=dict)   # case -> body
    csv: dict[str, bytes] = field(default_factory=dict)
    json_ascii_bytes: int = 0  # the "added" body with \\u escapes, as json.dumps' default sends it

    @classmethod
    def of(cls, rows: int) -> "Bodies":
        original, renamed = generated_clients(rows), generated_clients(rows, renamed=True)
        bodies = cls(rows, json_ascii_bytes=len(json.dumps({"clients": original}).encode()))
        for case, clients in (("added", original), ("unchanged", original), ("updated", renamed)):
            bodies.json[case], bodies.csv[case] = json_body(clients), csv_body(clients)
        return bodies


EXPECTED = {"added": (1, 0, 0), "unchanged": (0, 0, 1), "updated": (0, 1, 0)}


def expected(case: str, rows: int) -> tuple[int, int, int]:
    """(added, updated, unchanged) the case must answer."""
    return tuple(share * rows for share in EXPECTED[case])


def multipart(fields: dict[str, str], file: bytes) -> tuple[bytes, str]:
    """The import form as a browser posts it: (body, content type)."""
    boundary = "----mailerbench" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="clients.csv"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + file + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- owners --------------------------------------------------------------------------------

@dataclass
class Owners:
    """One round's two owners: the API's (with its token) and the import's."""

    api_email: str
    csv_email: str
    token: str
    ids: tuple[int, int]


def new_owners(app, label: str) -> Owners:
    from mailer import api_tokens
    from mailer.extensions import db

    with app.app_context():
        api_owner = common.add_user(f"api-{label}@{DOMAIN}")
        csv_owner = common.add_user(f"csv-{label}@{DOMAIN}")
        token = api_tokens.create_token(api_owner, "bench", None).secret
        owners = Owners(api_owner.email, csv_owner.email, token, (api_owner.id, csv_owner.id))
        db.session.remove()
    return owners


def clear(url: str, owners: Owners) -> None:
    """Delete the round's clients and vacuum, so the next round meets the same table."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DELETE FROM clients WHERE owner_id IN (:a, :c)"),
                     {"a": owners.ids[0], "c": owners.ids[1]})
        conn.execute(sa.text("VACUUM ANALYZE clients"))
    engine.dispose()


def _checked_api(status: int, text: str, case: str, rows: int) -> None:
    if status != 200:
        raise RuntimeError(f"bulk upsert ({case}) answered {status}: {text[:300]}")
    answer = json.loads(text)
    got = (answer["added"], answer["updated"], answer["unchanged"])
    if got != expected(case, rows):
        raise RuntimeError(f"bulk upsert ({case}) answered {answer}")


def _checked_import(status: int, location: str, list_page: str, case: str, rows: int) -> None:
    if status != 302 or not location.endswith("/clients/"):
        raise RuntimeError(f"CSV import ({case}) answered {status} {location!r}")
    done = DONE_RE.search(list_page)
    got = tuple(int(n) for n in done.groups()) if done else None
    if got != expected(case, rows):
        raise RuntimeError(f"CSV import ({case}) reported {got}")


# --- in-process ----------------------------------------------------------------------------

class InProcess:
    """Flask's test client: the API with a bearer token, the import as a signed-in user."""

    def __init__(self, app, owners: Owners):
        self.owners = owners
        self.api = app.test_client()
        self.web = app.test_client()
        page = self.web.get("/auth/login").get_data(as_text=True)
        answer = self.web.post("/auth/login", data={
            "email": owners.csv_email, "password": common.PASSWORD,
            "csrf_token": web.CSRF_RE.search(page).group(1)})
        if answer.status_code != 302:
            raise RuntimeError(f"signing in as {owners.csv_email}: {answer.status_code}")
        # The token's first use writes its last_used_at: not part of any case.
        self.api.get("/api/v1/clients?limit=1", headers=self.headers())

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.owners.token}"}

    def bulk(self, body: bytes, case: str, rows: int) -> float:
        started = time.perf_counter()
        response = self.api.post(BULK_PATH, data=body, content_type="application/json",
                                 headers=self.headers())
        took = time.perf_counter() - started
        _checked_api(response.status_code, response.get_data(as_text=True), case, rows)
        return took

    def upload(self, body: bytes, case: str, rows: int) -> float:
        page = self.web.get(IMPORT_PATH).get_data(as_text=True)
        form, content_type = multipart({"csrf_token": web.CSRF_RE.search(page).group(1),
                                        "progress_token": PROGRESS_RE.search(page).group(1)}, body)
        started = time.perf_counter()
        response = self.web.post(IMPORT_PATH, data=form, content_type=content_type)
        took = time.perf_counter() - started
        _checked_import(response.status_code, response.headers.get("Location", ""),
                        self.web.get("/clients/").get_data(as_text=True), case, rows)
        return took


# --- over HTTP -----------------------------------------------------------------------------

def _send(port: int, method: str, path: str, body: bytes | None, headers: dict):
    """(seconds from sending to the answer's last byte, status, headers, text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WORKER_TIMEOUT + 30)
    try:
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        took = time.perf_counter() - started
        return took, response.status, response.headers, data.decode("utf-8", "replace")
    finally:
        conn.close()


class OverHttp:
    """The same requests to gunicorn on loopback."""

    def __init__(self, port: int, owners: Owners):
        self.port, self.owners = port, owners
        self.cookie = web.sign_in(port, owners.csv_email)
        _send(port, "GET", "/api/v1/clients?limit=1", None, self.headers())

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.owners.token}"}

    def bulk(self, body: bytes, case: str, rows: int) -> float:
        took, status, _, text = _send(self.port, "POST", BULK_PATH, body,
                                      {**self.headers(), "Content-Type": "application/json"})
        _checked_api(status, text, case, rows)
        return took

    def upload(self, body: bytes, case: str, rows: int) -> float:
        _, _, _, page = _send(self.port, "GET", IMPORT_PATH, None, {"Cookie": self.cookie})
        form, content_type = multipart({"csrf_token": web.CSRF_RE.search(page).group(1),
                                        "progress_token": PROGRESS_RE.search(page).group(1)}, body)
        took, status, headers, _ = _send(self.port, "POST", IMPORT_PATH, form,
                                         {"Cookie": self.cookie, "Content-Type": content_type})
        # The flash lives in the session cookie the redirect sets.
        cookie = web._session_of(headers, self.cookie)
        _, _, _, listing = _send(self.port, "GET", "/clients/", None, {"Cookie": cookie})
        _checked_import(status, headers.get("Location", ""), listing, case, rows)
        return took


# --- the rounds ----------------------------------------------------------------------------

def measure(url: str, app, bodies: Bodies, rounds: int, way_in, label: str) -> dict:
    """{case: {"api": [s, ...], "csv": [s, ...]}}, after one warm-up round not counted."""
    samples = {case: {"api": [], "csv": []} for case in CASES}
    for n in range(rounds + 1):
        owners = new_owners(app, f"{label}-{n}")
        caller = way_in(owners)
        for case in CASES:
            api_s = caller.bulk(bodies.json[case], case, bodies.rows)
            csv_s = caller.upload(bodies.csv[case], case, bodies.rows)
            if n:
                samples[case]["api"].append(api_s)
                samples[case]["csv"].append(csv_s)
        clear(url, owners)
        if n:
            print(f"[api_bulk] {label} round {n}, API/CSV: " + ", ".join(
                f"{case} {samples[case]['api'][-1] * 1000:.0f}/"
                f"{samples[case]['csv'][-1] * 1000:.0f} ms" for case in CASES), flush=True)
    return samples


# --- where the API's time goes -------------------------------------------------------------

KEYS = frozenset(("email", "full_name", "comment"))


def plain_check(body: object, most: int) -> list[dict]:
    """BulkClientsInput's rules by hand, for the happy path's cost: marshmallow's reference."""
    if not isinstance(body, dict) or body.keys() != {"clients"} \
            or not isinstance(body["clients"], list):
        raise ValueError("not a body")
    items = body["clients"]
    if not 1 <= len(items) <= most:
        raise ValueError("length")
    loaded = []
    for item in items:
        if not isinstance(item, dict) or not item.keys() <= KEYS or "email" not in item:
            raise ValueError("item")
        row = {"full_name": "", "comment": "", **item}
        for value in row.values():
            if not isinstance(value, str) or "\x00" in value:
                raise ValueError("value")
        loaded.append(row)
    return loaded


@contextmanager
def timing_parts(spent: dict[str, float]):
    """Add to ``spent`` the time each request spends parsing JSON (webargs' ``parse_json``), in the
    marshmallow load of ``BulkClientsInput``, in ``upsert_clients`` and, within it, in
    ``clean_fields``: the app's own calls, wrapped in this process only while the block runs."""
    from webargs import core as webargs_core

    from mailer.api import schemas
    from mailer.clients import csv_io, services

    def timing(part, call):
        def timed_call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - started
        return timed_call

    wrapped = [(webargs_core, "parse_json", "json"), (schemas.BulkClientsInput, "load", "schema"),
               (services, "upsert_clients", "service"), (csv_io, "clean_fields", "check")]
    own = [(holder, name, vars(holder).get(name)) for holder, name, _ in wrapped]
    for holder, name, part in wrapped:
        setattr(holder, name, timing(part, getattr(holder, name)))
    try:
        yield
    finally:
        for holder, name, original in own:
            if original is None:  # inherited (the schema's load): the class had none of its own
                delattr(holder, name)
            else:
                setattr(holder, name, original)


def breakdown(url: str, app, bodies: Bodies, rounds: int) -> dict:
    """{"parts": {case: [{part: s}, ...]}, "schema"/"plain"/"parse_csv": [s, ...]}: the API's
    requests again in-process with their parts timed inside them, a new owner per round; then
    the marshmallow load against the plain check, and the import's parse of its file."""
    from mailer.api import schemas
    from mailer.clients import csv_io

    parts: dict[str, list[dict]] = {case: [] for case in CASES}
    for n in range(rounds + 1):
        owners = new_owners(app, f"parts-{n}")
        caller = InProcess(app, owners)
        for case in CASES:
            spent = dict.fromkeys(("json", "schema", "service", "check"), 0.0)
            with timing_parts(spent):
                spent["request"] = caller.bulk(bodies.json[case], case, bodies.rows)
            if n:
                parts[case].append(spent)
        clear(url, owners)
    parsed = json.loads(bodies.json["added"])
    schema = schemas.BulkClientsInput()
    found = {"parts": parts, "schema": [], "plain": [], "parse_csv": []}
    with app.test_request_context():
        for n in range(rounds + 1):
            times = {"schema": common.timed(lambda: schema.load(parsed)),
                     "plain": common.timed(lambda: plain_check(parsed, schemas.MAX_BULK)),
                     "parse_csv": common.timed(lambda: csv_io.parse_clients(bodies.csv["added"]))}
            if n:
                for name, took in times.items():
                    found[name].append(took)
    return found


# --- the figures ---------------------------------------------------------------------------

def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _over_default_timeout(runs: list[float]) -> str:
    over = sum(s > DEFAULT_WORKER_TIMEOUT for s in runs)
    if not over:
        return ""
    return f" ({over} of {len(runs)} over gunicorn's default {DEFAULT_WORKER_TIMEOUT} s)"


def case_figures(samples: dict, rows: int, where: str, rounds: int) -> list[Figure]:
    figures = []
    for case in CASES:
        api_ms, csv_ms = ms(samples[case]["api"]), ms(samples[case]["csv"])
        api_runs, csv_runs = samples[case]["api"], samples[case]["csv"]
        figures.append(Figure(
            bench="api_bulk", name=f"API bulk {rows:,} {case} ({where})", value=round(api_ms, 1),
            unit="ms", baseline=f"CSV import of the same rows ({where}); ratio API/CSV",
            baseline_value=round(csv_ms, 1), ratio=round(api_ms / csv_ms, 3),
            note=f"API {rows / api_ms * 1000:,.0f} rows/s, CSV {rows / csv_ms * 1000:,.0f} rows/s; "
                 f"median of {rounds}; API runs "
                 + ", ".join(f"{s * 1000:.0f}" for s in api_runs)
                 + f" ms{_over_default_timeout(api_runs)}, "
                 "CSV runs " + ", ".join(f"{s * 1000:.0f}" for s in csv_runs)
                 + f" ms{_over_default_timeout(csv_runs)}"))
    return figures


def parts_figures(found: dict, rows: int, rounds: int) -> list[Figure]:
    figures = []
    for case in CASES:
        runs = sorted(found["parts"][case], key=lambda spent: spent["request"])
        median_run = runs[len(runs) // 2]
        part = {name: took * 1000 for name, took in median_run.items()}
        rest = part["request"] - part["json"] - part["schema"] - part["service"]
        figures.append(Figure(
            bench="api_bulk", name=f"API bulk {rows:,} {case}: marshmallow load", unit="ms",
            value=round(part["schema"], 1),
            baseline="its request in-process; ratio: the load's share",
            baseline_value=round(part["request"], 1),
            ratio=round(part["schema"] / part["request"], 3),
            note=f"request {part['request']:.0f} ms = JSON parse {part['json']:.0f} + marshmallow "
                 f"{part['schema']:.0f} ({part['schema'] * 1000 / rows:.1f} µs a row) + "
                 f"upsert_clients {part['service']:.0f} (of which checking the rows, clean_fields "
                 f"with email_validator, {part['check']:.0f}; looking up and writing "
                 f"{part['service'] - part['check']:.0f}) + the rest (Flask, the token, webargs, "
                 f"the answer) {rest:.0f}; the median of {rounds} requests, its parts timed "
                 "inside it"))
    schema_ms, plain_ms = ms(found["schema"]), ms(found["plain"])
    figures.append(Figure(
        bench="api_bulk", name=f"marshmallow load of {rows:,} clients", value=round(schema_ms, 1),
        unit="ms", baseline="a plain-Python check of the same rules",
        baseline_value=round(plain_ms, 2),
        ratio=round(schema_ms / plain_ms, 1),
        note=f"{schema_ms * 1000 / rows:.1f} against {plain_ms * 1000 / rows:.2f} µs a row, the "
             f"same parsed body, median of {rounds}; BulkClientsInput: ClientInput nested "
             f"many, Text fields with the NUL check"))
    return figures


def size_figure(bodies: Bodies, parse_csv: list[float]) -> Figure:
    body, file = bodies.json["added"], bodies.csv["added"]
    return Figure(
        bench="api_bulk", name=f"request body, {bodies.rows:,} clients as JSON", value=len(body),
        unit="bytes", baseline="the same rows as the import's CSV file", baseline_value=len(file),
        ratio=round(len(body) / len(file), 3),
        note=f"UTF-8 JSON {len(body) / 1024:,.0f} KiB; with \\u escapes (json.dumps' default, "
             f"as Python's requests sends it) {bodies.json_ascii_bytes / 1024:,.0f} KiB; CSV "
             f"{len(file) / 1024:,.0f} KiB (the multipart form adds a few hundred bytes); "
             f"the import's parse and check of the file alone (csv_io.parse_clients) "
             f"{ms(parse_csv):.0f} ms")


def run(ctx: Context) -> list[Figure]:
    rows = QUICK_ROWS if ctx.quick else ROWS
    rounds = QUICK_ROUNDS if ctx.quick else ROUNDS
    bodies = Bodies.of(rows)
    tmp = ctx.tmp / "api_bulk"
    tmp.mkdir(exist_ok=True)
    with common.throwaway_database() as url:
        app = common.make_app(url, tmp)
        print(f"[api_bulk] in-process, {rows:,} clients, {rounds} rounds ...", flush=True)
        in_process = measure(url, app, bodies, rounds, lambda owners: InProcess(app, owners),
                             "in-process")
        print("[api_bulk] where the API's time goes ...", flush=True)
        parts = breakdown(url, app, bodies, rounds)
        print("[api_bulk] over HTTP (gunicorn, 2 workers) ...", flush=True)
        with web.gunicorn(url, tmp, args=("--timeout", str(WORKER_TIMEOUT))) as port:
            over_http = measure(url, app, bodies, rounds, lambda owners: OverHttp(port, owners),
                                "http")
        with app.app_context():
            from mailer.extensions import db
            db.engine.dispose()
    figures = [size_figure(bodies, parts["parse_csv"])]
    figures += case_figures(in_process, rows, "in-process", rounds)
    figures += case_figures(over_http, rows, "gunicorn", rounds)
    figures += parts_figures(parts, rows, rounds)
    return figures


if __name__ == "__main__":
    for figure in run(Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
