"""Forms fuzzed with hypothesis: no input makes any form answer 500.

The forms are found from the app's own URL map, so a form added later is fuzzed
too: every GET route is opened (with the ids of real objects) as the person who
uses it, and every ``<form method="post">`` the page shows with something to
fill in is posted back by that person, with the form's own CSRF token, with
values hypothesis makes for the form's fields (read from the page: the
``name="..."`` of its inputs, selects and textareas).

Who posts: a visitor for registering, signing in and the e-mail links; the
owner of the objects (a normal user with messages, clients and a mailing) for
the workspace and the profile; a manager for /manager; a superuser for the
Flask-Admin views under /admin. Each value is either plausible (what the page
filled in, a real option, an id of the owner's, a well-formed date) or nasty
(empty, blanks, 5,000 characters, NUL, RTL and emoji, HTML, Jinja, SQL, CRLF
header injection, huge and negative numbers, impossible dates, other users'
ids, missing); hypothesis mixes them, so a payload gets past the form's own
checks into the services too. Files: CSV uploads of random bytes, other
encodings, BOMs, NULs, huge lines, semicolons; images of random bytes named .png.

Every answer must be below 500 (an exception in a view fails the test with its
input, as the test app passes exceptions on); a 200 must show the form again and
must not say "An error happened on our side" (the admin turns an exception in a
save into that message, a 500 in disguise); the CSRF token must never be refused
(or the fuzzing would test nothing). Afterwards the list pages still open.
Run with -s to see how many forms and payloads were tried.
"""
from __future__ import annotations

import html
import io
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale, gettext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mailer.auth import services as account_services
from mailer import tokens
from mailer.models import Role, utcnow
from tests.conftest import AuthActions
from tests.workspace import make_mailing, make_material
from tests.factories import PostFactory

EXAMPLES = 25  # payloads per form
FILE_EXAMPLES = 60  # payloads per upload form (CSV import, post image)
FUZZ_SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
ROLES = ("visitor", "owner", "manager", "superuser")
VISITOR_ENDPOINTS = ("auth.register", "auth.login", "auth.request_reset", "auth.resend_verification",
                     "auth.reset_password")
# GET routes that are not pages with forms: files, downloads, JSON, and links that act when opened.
NOT_PAGES = (".static", ".export", ".ajax_lookup", ".details_view", ".export_clients", ".export_attempts",
             ".search_clients", "blog.image", "auth.verify_email", "main.healthz", "static")
ADMIN_ROW_IDS = {"post": "post_id", "mailing": "mailing_id", "client": "client_id", "message": "message_id",
                 "user": "user_id"}
TOTALS = Counter()


def role_for(endpoint: str) -> str:
    if endpoint in VISITOR_ENDPOINTS:
        return "visitor"
    if endpoint.startswith("admin"):
        return "superuser"
    if endpoint.startswith("manager."):
        return "manager"
    if endpoint.startswith(("auth.", "clients.", "messages.", "mailings.", "reports.")):
        return "owner"
    return "visitor"


# --- the world: people, their objects, their browsers -----------------------------------------

@pytest.fixture
def app(make_app, smtp_sink, tmp_path):
    smtp_sink.clear()
    # The admin turns an exception in a save into a flash; here it fails the test with its traceback.
    return make_app(UPLOAD_FOLDER=str(tmp_path / "uploads"), FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION=True,
                    RATELIMIT_ENABLED=False)  # no 429 hides an answer


@dataclass
class World:
    clients: dict  # role -> test client, signed in
    ids: dict  # role -> URL arguments naming that role's objects
    own_ids: list[int]  # ids the owner may pick (clients, messages)
    foreign_ids: list[int]  # ids of another user's objects


@pytest.fixture
def world(app, db, make_user):
    # Zones far from UTC: a wall-clock time at the ends of the calendar has no UTC time there.
    owner = make_user(email="owner@example.com", language="en", timezone="Asia/Kathmandu")
    other = make_user(email="other@example.com", language="en")
    make_user(email="manager@example.com", role=Role.MANAGER, language="en")
    superuser = make_user(email="root@example.com", is_superuser=True, language="en",
                          timezone="America/Adak")
    victim = make_user(email="victim@example.com", language="en")  # the admin's user form edits them
    forgetful = make_user(email="forgetful@example.com", language="en")  # holds a reset link
    message, own_clients = make_material(db, owner)
    mailing = make_mailing(db, owner, clients=2)
    other_message, other_clients = make_material(db, other, "Other")
    other_mailing = make_mailing(db, other, clients=1)  # the manager stops this one
    post = PostFactory(title="Hello", body="World", published_at=utcnow(), author=superuser)
    db.session.commit()
    reset_token = tokens.make_token(tokens.RESET_PASSWORD, {
        "uid": forgetful.id, "fp": account_services._reset_fingerprint(forgetful)})

    clients = {}
    for role, email in (("visitor", None), ("owner", owner.email), ("manager", "manager@example.com"),
                        ("superuser", superuser.email)):
        clients[role] = app.test_client()
        if email:
            assert AuthActions(clients[role]).login(email).status_code == 302
    ids = {
        "visitor": {"token": reset_token, "post_id": post.id},
        "owner": {"mailing_id": mailing.id, "message_id": message.id, "client_id": own_clients[0].id},
        "manager": {"mailing_id": other_mailing.id, "user_id": other.id},
        "superuser": {"post_id": post.id, "mailing_id": mailing.id, "client_id": own_clients[0].id,
                      "message_id": message.id, "user_id": victim.id},
    }
    own_ids = sorted({message.id, mailing.message_id, *(c.id for c in own_clients)})
    foreign_ids = sorted({other_message.id, other_mailing.id, *(c.id for c in other_clients)})
    return World(clients, ids, own_ids, foreign_ids)


# --- reading the forms off the pages ----------------------------------------------------------

FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
POST_FORM_RE = re.compile(r"<form\b[^>]*\bmethod=\"post\"", re.I)
ATTR_RE = re.compile(r"([\w:-]+)(?:\s*=\s*\"([^\"]*)\")?")
SELECT_RE = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.S | re.I)
OPTION_RE = re.compile(r"<option\b([^>]*)>", re.I)
TEXTAREA_RE = re.compile(r"<textarea\b([^>]*)>(.*?)</textarea>", re.S | re.I)
INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)


def _attrs(text: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value or "") for name, value in ATTR_RE.findall(text)}


@dataclass
class Field:
    name: str
    kind: str  # text, email, password, hidden, checkbox, datetime, select, file, submit
    value: str = ""  # what the page filled in
    options: list[str] = field(default_factory=list)
    multiple: bool = False
    accept: str = ""


@dataclass
class Form:
    role: str
    page: str
    action: str
    endpoint: str
    multipart: bool
    token: str
    fields: list[Field]

    @property
    def key(self):
        return self.endpoint, tuple(sorted(f.name for f in self.fields))


def _fields(body: str) -> tuple[str, list[Field]]:
    token, fields = "", []
    for attrs_text, inner in SELECT_RE.findall(body):
        attrs = _attrs(attrs_text)
        options = [_attrs(o).get("value", "") for o in OPTION_RE.findall(inner)]
        selected = [_attrs(o).get("value", "") for o in OPTION_RE.findall(inner) if "selected" in _attrs(o)]
        fields.append(Field(attrs.get("name", ""), "select", selected[0] if selected else "", options,
                            "multiple" in attrs))
    for attrs_text, inner in TEXTAREA_RE.findall(body):
        attrs = _attrs(attrs_text)
        # A browser drops the one line break that follows <textarea>.
        fields.append(Field(attrs.get("name", ""), "text", re.sub(r"^\r?\n", "", html.unescape(inner))))
    for attrs_text in INPUT_RE.findall(body):
        attrs = _attrs(attrs_text)
        kind = attrs.get("type", "text").lower()
        if attrs.get("name") == "csrf_token":
            token = attrs.get("value", "")
            continue
        kind = {"datetime-local": "datetime", "search": "text", "number": "text", "url": "text",
                "radio": "select"}.get(kind, kind)
        fields.append(Field(attrs.get("name", ""), kind, attrs.get("value", ""), accept=attrs.get("accept", "")))
    return token, [f for f in fields if f.name]


def _forms_on(app, role: str, page_url: str, page: str) -> list[Form]:
    adapter = app.url_map.bind("mailer.test")
    found = []
    for form_attrs, body in FORM_RE.findall(page):
        attrs = _attrs(form_attrs)
        if attrs.get("method", "get").lower() != "post":
            continue
        action = attrs.get("action") or page_url
        if action.startswith("?"):
            action = urlsplit(page_url).path + action
        endpoint, _ = adapter.match(urlsplit(action).path, method="POST")
        token, fields = _fields(body)
        if not any(f.kind != "submit" for f in fields):
            continue  # a button (delete, pause, sign out): nothing to type in
        found.append(Form(role, page_url, action, endpoint, "multipart" in attrs.get("enctype", ""),
                          token, fields))
    return found


def _page_urls(app, world: World):
    """(role, rule, url) of every GET page, with the ids of that role's objects."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith(NOT_PAGES):
            continue
        role = role_for(rule.endpoint)
        ids = world.ids[role]
        if rule.arguments - set(ids):
            yield role, rule, None
            continue
        url = rule.build({a: ids[a] for a in rule.arguments})[1]
        if rule.endpoint.endswith(".edit_view"):
            url += f"?id={ids[ADMIN_ROW_IDS[rule.endpoint.split('.')[0].removeprefix('admin_')]]}"
        yield role, rule, url


def discover_forms(app, world: World) -> list[Form]:
    forms: dict = {}
    unreached = []
    for role, rule, url in sorted(_page_urls(app, world), key=lambda p: ROLES.index(p[0])):
        if url is None:
            if "POST" in rule.methods:
                unreached.append(rule.rule)
            continue
        response = world.clients[role].get(url)
        if "POST" in rule.methods and rule.endpoint.startswith(("admin", "manager.", "clients.", "messages.", "mailings.", "auth.")):
            # A form route must open for its user (Flask-Admin sends "create" back to the list
            # when a model is not created there).
            assert response.status_code in (200, 302), (url, response.status_code)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in _forms_on(app, role, url, response.get_data(as_text=True)):
            forms.setdefault(form.key, form)
    assert not unreached, f"form routes this test cannot open (give it their ids): {unreached}"
    # Posts that change other forms' objects away (admin deletes) come last.
    return sorted(forms.values(), key=lambda f: (ROLES.index(f.role), f.endpoint.endswith(".delete_view")))


# --- values ----------------------------------------------------------------------------------

NASTY_TEXT = [
    "", " ", "   \t  ", "\n", "\r\n", "\x00", "a\x00b", "\x00" * 10, "\x07\x1b[31m", "\u2028\u2029",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "</textarea><b>x</b>", "&amp;&lt;&#0;",
    "{{ 7*7 }}", "{% for x in range(10) %}{{ x }}{% endfor %}", "{{ config }}", "{{ client.full_name }",
    "{% if %}", "{# x", "{{ ''.__class__.__mro__ }}", "{{ client.email|e }}", "{% raw %}", "${7*7}",
    "' OR 1=1 --", "'; DROP TABLE users; --", "%", "_", "\\", "%00", "' UNION SELECT password_hash FROM users --",
    "a\r\nBcc: victim@example.com", "x@example.com\r\nSubject: hi", "x\nX-Injected: 1", "=?utf-8?b?SGk=?=",
    "0", "-1", "1e309", "NaN", "inf", "9" * 40, "-9223372036854775809", "2147483648", "0x10", "١٢٣", "½",
    "שלום עולם", "مرحبا بالعالم", "\u202eevil\u202c", "😀" * 10, "👨‍👩‍👧‍👦", "\ufeff", "\u200b", "\uffff",
    "Ω≈ç√∫", "Zürich", "ǅ", "ﷺ", "\U0001F600\u0301", "../../etc/passwd", "//evil.example.com", "javascript:alert(1)",
    "user@example.com", "a@b", "@", "a" * 250 + "@example.com", "юзер@пример.рф", "user@[127.0.0.1]",
    "\"quoted\"@example.com", "USER@EXAMPLE.COM ", "user@example..com", "user@localhost", "x@example.com, y@e.com",
    "UTC", "Europe/Moscow", "Mars/Olympus_Mons", "ru", "en", "xx", "daily", "DAILY", "yearly", "None", "null",
]
BAD_DATES = [
    "2030-02-30T25:61", "9999-12-31T23:59", "0001-01-01T00:00", "2030-13-01T00:00", "2030-00-10T10:00",
    "2030-01-01", "10:00", "2030-01-01 10:00", "01/02/2030 10:00", "2030-01-01T10:00:00", "2030-01-01T10:00Z",
    "2030-01-01T10:00+05:00", "+002030-01-01T10:00", "-0001-01-01T00:00", "2030-1-1T1:1", "2030-01-01T24:00",
    "2030-03-31T02:30", "2030-10-27T02:30", "2030-03-10T02:30", "2024-02-29T12:00", "2023-02-29T12:00",
    "1970-01-01T00:00", "1969-12-31T23:59", "2038-01-19T03:14", "10000-01-01T00:00", "２０３０-01-01T10:00",
]
ODD_NUMBERS = ["0", "-1", "1.5", "1e3", " 1", "1 ", "+1", "0x1", "abc", "", "2147483648", "9223372036854775808",
               "-9223372036854775809", "1" * 30, "١"]
ZONES = ["UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati",
         "Pacific/Chatham", "America/St_Johns", "Asia/Kathmandu"]
EMAIL_SHAPES = ["new@example.com", "Someone.Else+tag@Example.COM", "ünïcödé@example.com", "o'brien@example.ie",
                "a@b.co", "x" * 60 + "@example.com"]
FILENAMES = ["picture.png", "x.PNG", "../../etc/passwd.png", "a\x00.png", "😀.png", ".png", "x" * 300 + ".png",
             "shell.php.png", "con.png"]


def _fmt(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}"


def _sometimes_missing(strategy):
    return st.one_of(st.none(), strategy)


TEXT = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(),  # any code point but surrogates: controls, RTL, emoji, combining marks
    st.text(max_size=5000),
    st.builds(lambda unit, n: (unit * n)[:5000], st.sampled_from(["x", "é", "😀", "<b>", "{{ x }}", "\x00", " ",
                                                                  "\r\n", "ש", "'"]), st.integers(100, 5000)),
    st.builds(lambda head, tail: head + tail, st.text(max_size=20), st.sampled_from(NASTY_TEXT)),
    st.integers(min_value=-2**80, max_value=2**80).map(str),
)
HUGE_INTS = st.integers(min_value=-2**70, max_value=2**70).map(str)


def _id_values(world: World):
    real = world.own_ids + world.foreign_ids
    return st.one_of(st.sampled_from(real).map(str), st.sampled_from(ODD_NUMBERS), HUGE_INTS, TEXT)


def _date_values():
    return st.one_of(st.sampled_from(BAD_DATES), st.datetimes().map(_fmt),
                     st.datetimes().map(lambda d: d.isoformat()), TEXT)


TODAY = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)


def _plausible_date():
    return st.datetimes(min_value=TODAY - timedelta(days=400), max_value=TODAY + timedelta(days=3000)).map(_fmt)


@lru_cache
def _pictures() -> list[bytes]:
    pictures = []
    for image_format in ("PNG", "JPEG", "GIF", "WEBP"):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, image_format)
        pictures.append(buffer.getvalue())
    bomb = io.BytesIO()  # a few kB that unpack into 144 million pixels
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")
    pictures.append(bomb.getvalue())
    return pictures


def _image_files():
    picture = st.sampled_from(_pictures())
    content = st.one_of(
        st.binary(max_size=4096),
        st.binary(max_size=2048).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=2048).map(lambda b: b"GIF89a" + b),
        st.builds(lambda p, n: p[:n], picture, st.integers(0, 200)),  # cut short
        st.builds(lambda p, i, b: p[:i] + bytes([b]) + p[i + 1:], picture, st.integers(0, 300),
                  st.integers(0, 255)),  # one byte changed
        picture,
    )
    return st.tuples(content, st.sampled_from(FILENAMES))


CSV_CELL = st.one_of(st.sampled_from(NASTY_TEXT), st.sampled_from(EMAIL_SHAPES), st.text(max_size=40),
                     st.emails().map(str), st.sampled_from(["=1+1", "'=cmd", "+1", "-1", "@SUM(A1)", "\"", "\"\"",
                                                            "a\"b", "\"a,b\"", ";", ","]))
CSV_HEADER = st.one_of(
    st.sampled_from([["email", "full_name", "comment"], ["EMAIL ", " Full_Name"], ["full_name", "comment"],
                     ["email"], [], ["email", "email", "comment"], ["\ufeffemail", "full_name"],
                     ["comment", "email", "full_name", "extra"]]),
    st.lists(CSV_CELL, max_size=4),
)


@st.composite
def _csv_text_files(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    rows = [draw(CSV_HEADER)] + draw(st.lists(st.lists(CSV_CELL, max_size=5), max_size=15))
    text = newline.join(delimiter.join(row) for row in rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1251", "latin-1",
                                     "utf-32"]))
    return text.encode(encoding, errors="replace")


def _big_csv(rows: int) -> bytes:
    lines = ["email,full_name,comment"] + [f"bulk{n}@example.com,Bulk {n},row {n}" for n in range(rows)]
    return "\n".join(lines).encode()


def _csv_files():
    content = st.one_of(
        _csv_text_files(),
        st.binary(max_size=3000),
        st.sampled_from([b"", b" ", b"\n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\xff\xfe", b"\x00",
                         b"email\n\x00@example.com\n", b"email\nok@example.com\n\x80\x81\xfe\n",
                         b"email;full_name\na@example.com;A\n", b"email\n" + b"a" * 200_000 + b"@example.com\n",
                         b"email,comment\nlong@example.com," + b"c" * 150_000 + b"\n",
                         b"email,full_name\n\"unclosed@example.com,x\n", b"\"" * 1000,
                         _big_csv(2500), b"email\n" + b"x" * (5 * 1024 * 1024 + 10)]),
        st.builds(lambda prefix, body: prefix + body,
                  st.sampled_from([b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe", b"\x00", b"\xef\xbb\xbf\xef\xbb\xbf"]),
                  _csv_text_files()),
        st.builds(lambda body, i: body[:i] + b"\x00" + body[i:], _csv_text_files(), st.integers(0, 200)),
    )
    return st.tuples(content, st.sampled_from(["clients.csv", "clients.txt", "", "../x.csv", "a\x00.csv",
                                               "клиенты.csv"]))


def _plausible(f: Field, world: World):
    """Values that pass the form's own checks, so the services behind them are reached."""
    page_value = st.just(f.value)
    name = f.name.lower()
    if f.kind == "submit":
        return st.one_of(st.none(), page_value)
    if f.kind == "checkbox":
        return st.sampled_from([f.value or "y", None])
    if f.kind == "file":
        if "image" in f.accept:
            return st.tuples(st.sampled_from(_pictures()[:4]), st.sampled_from(["picture.png", "photo.jpg"]))
        return st.tuples(st.one_of(_csv_text_files(), st.just(b"email,full_name\nfresh@example.com,Fresh\n")),
                         st.just("clients.csv"))
    if f.kind == "datetime":
        return st.one_of(page_value, _plausible_date()) if f.value else _plausible_date()
    if f.kind == "select":
        options = [o for o in f.options if o] or [f.value]
        if f.multiple:
            return st.lists(st.sampled_from(options), max_size=5) if f.options else st.just([])
        return st.sampled_from(options)
    if name in ("owner", "message", "recipients", "id") or name.endswith("_id"):
        # Flask-Admin's search-as-you-type pickers: hidden inputs holding ids ("1,2" for several).
        ids = st.sampled_from(world.own_ids).map(str)
        if name == "recipients":
            return st.lists(ids, max_size=4).map(",".join)
        return st.one_of(page_value, ids) if f.value else ids
    if "email" in name or f.kind == "email":
        return st.one_of(st.sampled_from(EMAIL_SHAPES), st.emails().map(str), page_value)
    if f.kind == "password":
        # The repeat differs at first, so a reset link is not used up by the very first payload.
        passwords = ["password123", "a new password", "пароль-пароль"]
        return st.sampled_from(passwords[::-1] + ["different"] if name == "password2" else passwords)
    if name == "timezone":
        return st.sampled_from(ZONES)
    if name == "body":
        return st.sampled_from(["Hello {{ client.full_name }}", "Hi {% if client.full_name %}you{% endif %}",
                                "plain text"])
    return st.one_of(page_value, st.text(alphabet=string.ascii_letters + " äöü", min_size=1, max_size=40))


def _nasty(f: Field, world: World):
    name = f.name.lower()
    if f.kind == "submit":
        return _sometimes_missing(st.just(f.value))
    if f.kind == "file":
        files = _image_files() if "image" in f.accept else _csv_files()
        return _sometimes_missing(files)
    if f.kind == "datetime":
        return _sometimes_missing(_date_values())
    if f.kind == "select" and f.multiple or name in ("recipients", "client_ids"):
        many = st.lists(st.one_of(_id_values(world), st.sampled_from(f.options or ["1"])), max_size=8)
        return _sometimes_missing(many if f.kind == "select" else many.map(",".join))
    if f.kind == "select" or name in ("owner", "message", "id") or name.endswith("_id"):
        return _sometimes_missing(st.one_of(_id_values(world), TEXT))
    return _sometimes_missing(TEXT)


@st.composite
def payloads(draw, form: Form, world: World):
    """The form's fields: a few (hypothesis picks which) nasty, the rest plausible."""
    names = [f.name for f in form.fields]
    nasty = draw(st.sets(st.sampled_from(names))) if names else set()
    data = {}
    for f in form.fields:
        value = draw(_nasty(f, world) if f.name in nasty else _plausible(f, world))
        if value is None:
            continue
        if f.kind == "file":
            content, filename = value
            value = (io.BytesIO(content), filename)
        if f.name in data and not isinstance(value, list):  # a name shown twice (radio buttons)
            continue
        data[f.name] = value
    return data


# --- posting ---------------------------------------------------------------------------------

def _in_both_languages(app, text: str) -> set[str]:
    with app.test_request_context():
        translations = set()
        for language in ("en", "ru"):  # the owner's profile form may switch the language
            with force_locale(language):
                translations.add(gettext(text))
    return translations


def fuzz(app, world: World, forms: list[Form]) -> Counter:
    csrf_refused = _in_both_languages(app, "The form has expired or was sent from another page.")
    failed_inside = _in_both_languages(app, "An error happened on our side.")
    counts = Counter()
    for form in forms:
        client = world.clients[form.role]
        examples = FILE_EXAMPLES if any(f.kind == "file" for f in form.fields) else EXAMPLES
        statuses = Counter()

        @settings(max_examples=examples, **FUZZ_SETTINGS)
        @given(data=payloads(form, world))
        def post_it(data):
            response = client.post(form.action, data={"csrf_token": form.token, **data},
                                   content_type="multipart/form-data" if form.multipart else None)
            statuses[response.status_code] += 1
            counts["payloads"] += 1
            where = f"{form.endpoint} at {form.action} as {form.role}"
            assert response.status_code < 500, where
            page = response.get_data(as_text=True)
            assert not any(text in page for text in csrf_refused), f"CSRF token refused: {where}"
            assert not any(text in page for text in failed_inside), f"{where}: failed inside (a hidden 500)"
            if response.status_code == 200:
                assert POST_FORM_RE.search(page), f"{where}: a 200 without the form"
                shown = [f.name for f in form.fields if f.kind != "submit"]
                assert any(f'name="{name}"' in page for name in shown), f"{where}: the form's fields are gone"

        post_it()
        counts["forms"] += 1
        print(f"  {form.endpoint:<34} {form.role:<9} {sum(statuses.values()):>3} payloads, "
              f"answers {dict(sorted(statuses.items()))}")
    return counts


LIST_PAGES = {
    "owner": ["/mailings/", "/clients/", "/messages/", "/attempts/", "/auth/profile"],
    "manager": ["/manager/mailings", "/manager/users"],
    "superuser": ["/admin/", "/admin/post/", "/admin/mailing/", "/admin/client/", "/admin/message/",
                  "/admin/user/"],
    "visitor": ["/", "/blog/", "/auth/login"],
}


def _lists_still_open(world: World) -> None:
    for role, urls in LIST_PAGES.items():
        for url in urls:
            assert world.clients[role].get(url).status_code == 200, (role, url)


def _report(label: str, counts: Counter) -> None:
    TOTALS.update(counts)
    print(f"\n{label}: fuzzed {counts['forms']} forms with {counts['payloads']} payloads, none answered 500")


@pytest.fixture(scope="module", autouse=True)
def grand_total():
    yield
    if TOTALS:
        print(f"\nin all: fuzzed {TOTALS['forms']} forms with {TOTALS['payloads']} payloads, none answered 500")


# --- the tests -------------------------------------------------------------------------------

def test_the_forms_are_found_on_the_pages(app, world):
    """The walk finds every form route of the site and of the admin (so the fuzzing misses none)."""
    endpoints = {form.endpoint for form in discover_forms(app, world)}
    expected = {rule.endpoint for rule in app.url_map.iter_rules() if {"GET", "POST"} <= rule.methods}
    # Flask-Admin's "create" of models made on the site only sends back to the list: no form.
    expected -= {"admin_client.create_view", "admin_message.create_view", "admin_user.create_view"}
    assert expected <= endpoints, expected - endpoints
    assert {"auth.change_password", "manager.stop_mailing", "main.set_language"} <= endpoints


def test_no_form_of_the_site_answers_500(app, world):
    forms = [f for f in discover_forms(app, world) if f.role != "superuser"]
    assert len(forms) >= 15, [f.endpoint for f in forms]
    counts = fuzz(app, world, forms)
    _lists_still_open(world)
    _report("site", counts)


def test_no_admin_form_answers_500(app, world):
    forms = [f for f in discover_forms(app, world) if f.role == "superuser"]
    assert {"admin_post.create_view", "admin_post.edit_view", "admin_mailing.create_view",
            "admin_mailing.edit_view", "admin_user.edit_view"} <= {f.endpoint for f in forms}
    counts = fuzz(app, world, forms)
    _lists_still_open(world)
    _report("admin", counts)
