"""Clients from and to CSV: import (atomic, with a report per line) and export."""
import csv
import io
import re
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from mailer.clients import csv_io as client_csv
from mailer.models import Client
from tests.conftest import AuthActions, submit
from tests.factories import ClientFactory

BOM = "\ufeff".encode()


def upload(client, content: bytes | str, skip_rejected=False, follow_redirects=True):
    if isinstance(content, str):
        content = content.encode("utf-8")
    data = {"file": (io.BytesIO(content), "clients.csv")}
    if skip_rejected:
        data["skip_rejected"] = "y"
    return submit(client, "/clients/import", data, content_type="multipart/form-data",
                  follow_redirects=follow_redirects)


def saved(db, owner) -> list[tuple[str, str, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Client.email, Client.full_name, Client.comment)
        .where(Client.owner_id == owner.id)
        .order_by(Client.email)
    )
    return [tuple(row) for row in rows]


def test_import_page_shows_the_form(client, owner):
    page = client.get("/clients/import").get_data(as_text=True)

    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page
    assert "Import the valid rows and skip the rejected ones" in page


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("bom", [b"", BOM])
def test_import_reads_both_delimiters_with_or_without_bom(client, db, owner, delimiter, bom):
    lines = [
        ["email", "full_name", "comment"],
        ["anna@example.com", "Анна Петрова", "Клиентка с 2020 года"],
        ["Boris@Example.com", "Борис", ""],
    ]
    content = bom + "\r\n".join(delimiter.join(line) for line in lines).encode("utf-8")

    page = upload(client, content)

    assert "Import done. Added: 2, updated: 0, unchanged: 0." in page.get_data(as_text=True)
    assert saved(db, owner) == [
        ("anna@example.com", "Анна Петрова", "Клиентка с 2020 года"),
        ("boris@example.com", "Борис", ""),
    ]


def test_import_matches_headers_in_any_case_and_ignores_extra_columns(client, db, owner):
    content = "Phone;EMAIL;Full_Name;Notes\n+7 900;anna@example.com;Anna;x\n"

    upload(client, content)

    assert saved(db, owner) == [("anna@example.com", "Anna", "")]


def test_email_column_alone_is_enough(client, db, owner):
    upload(client, "email\nanna@example.com\n\nboris@example.com\n")

    assert saved(db, owner) == [("anna@example.com", "", ""), ("boris@example.com", "", "")]


def test_existing_email_is_updated_and_new_one_added(client, db, owner):
    ClientFactory(owner=owner, email="anna@example.com", full_name="Old", comment="old",
                  unsubscribed_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    ClientFactory(owner=owner, email="same@example.com", full_name="Same", comment="")
    db.session.commit()
    content = ("email,full_name,comment\n"
               "ANNA@example.com,Анна,new comment\n"
               "same@example.com,Same,\n"
               "new@example.com,New,\n")

    page = upload(client, content)

    assert "Added: 1, updated: 1, unchanged: 1." in page.get_data(as_text=True)
    assert saved(db, owner) == [
        ("anna@example.com", "Анна", "new comment"),
        ("new@example.com", "New", ""),
        ("same@example.com", "Same", ""),
    ]
    anna = db.session.scalar(sa.select(Client).where(Client.email == "anna@example.com"))
    assert anna.unsubscribed_at is not None  # an import never re-subscribes anyone
    new = db.session.scalar(sa.select(Client).where(Client.email == "new@example.com"))
    assert new.created_at is not None


def test_import_does_not_touch_another_users_clients(client, db, make_user, owner):
    other = make_user(email="other@example.com")
    ClientFactory(owner=other, email="anna@example.com", full_name="Theirs")
    db.session.commit()

    upload(client, "email,full_name\nanna@example.com,Mine\n")

    assert saved(db, owner) == [("anna@example.com", "Mine", "")]
    assert saved(db, other) == [("anna@example.com", "Theirs", "")]


def file_with_bad_email_on_line_7() -> str:
    rows = ["email,full_name,comment"]
    rows += [f"client{n}@example.com,Client {n}," for n in range(2, 7)]  # lines 2–6
    rows.append("not-an-email,Broken,")  # line 7
    rows.append("client8@example.com,Client 8,")  # line 8
    return "\n".join(rows) + "\n"


def test_a_rejected_row_stops_the_whole_import(client, db, owner):
    page = upload(client, file_with_bad_email_on_line_7())

    text = page.get_data(as_text=True)
    assert "Nothing was imported: 1 row(s) of the file were rejected (6 row(s) are fine)." in text
    assert "<td>7</td><td class=\"text-break\">not-an-email</td><td>Not a valid e-mail address.</td>" in text
    assert saved(db, owner) == []


def test_skip_checkbox_imports_the_valid_rows_and_reports_the_rest(client, db, owner):
    page = upload(client, file_with_bad_email_on_line_7(), skip_rejected=True)

    text = page.get_data(as_text=True)
    assert "Added: 6, updated: 0, unchanged: 0, skipped rows: 1." in text
    assert "Skipped rows" in text
    assert "<td>7</td><td class=\"text-break\">not-an-email</td>" in text
    assert [email for email, _, _ in saved(db, owner)] == [
        f"client{n}@example.com" for n in range(2, 7)
    ] + ["client8@example.com"]


def test_every_rejected_row_is_reported_with_its_reason(client, db, owner):
    content = (
        "email;full_name;comment\n"           # 1
        "anna@example.com;Anna;\n"            # 2
        ";Nobody;no address\n"                # 3
        "ANNA@example.com;Anna again;\n"      # 4
        f"long@example.com;{'x' * 201};\n"    # 5
        "quoted@example.com;Q;\"two\n"        # 6
        "lines; with a semicolon\"\n"         # 7 (still line 6's row)
        "bad@@example.com;;\n"                # 8
        f"c@example.com;C;{'y' * 2001}\n"     # 9
        "tab@example.com;Tab\tName;\n"        # 10
    )

    page = upload(client, content)

    text = page.get_data(as_text=True)
    rejected = [
        (3, ";Nobody;no address", "E-mail missing."),
        (4, "ANNA@example.com", "Duplicate of line 2."),
        (5, "long@example.com", "The name is too long (at most 200 characters)."),
        (8, "bad@@example.com", "Not a valid e-mail address."),
        (9, "c@example.com", "The comment is too long (at most 2000 characters)."),
        (10, "tab@example.com", "The name must be one line without control characters."),
    ]
    for line, value, reason in rejected:
        assert f"<td>{line}</td><td class=\"text-break\">{value}</td><td>{reason}</td>" in text
    assert "<td>6</td>" not in text and "<td>7</td>" not in text
    assert saved(db, owner) == []


def test_duplicate_rows_within_the_file_keep_the_first(client, db, owner):
    content = "email,full_name\na@example.com,First\nb@example.com,B\nA@EXAMPLE.COM,Second\n"

    page = upload(client, content, skip_rejected=True)

    assert "Duplicate of line 2." in page.get_data(as_text=True)
    assert saved(db, owner) == [("a@example.com", "First", ""), ("b@example.com", "B", "")]


@pytest.mark.parametrize("content, message", [
    ("email,full_name\nанна@example.com,Анна\n".encode("cp1251"), "The file is not UTF-8 text."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "The file is not UTF-8 text."),
    (b"email,name\x00\x00\x00\n", "This is not a CSV text file."),
    (b"", "The file is empty."),
    (b"\r\n  \n", "The file is empty."),
    (BOM, "The file is empty."),
    (b"name,comment\nAnna,hello\n", "The file has no “email” column."),
    (b"anna@example.com,Anna\n", "The file has no “email” column."),
    (b"email,full_name\n", "The file has a header but no clients below it."),
])
def test_unreadable_file_is_explained_and_nothing_changes(client, db, owner, content, message):
    ClientFactory(owner=owner, email="keep@example.com", full_name="Keep")
    db.session.commit()

    page = upload(client, content, skip_rejected=True)

    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert saved(db, owner) == [("keep@example.com", "Keep", "")]


def test_upload_without_a_file_is_refused(client, owner):
    page = submit(client, "/clients/import", {}, content_type="multipart/form-data")

    assert "Choose a CSV file to upload." in page.get_data(as_text=True)


def test_a_50_mb_upload_is_refused_with_the_limit_and_changes_nothing(client, db, owner):
    ClientFactory(owner=owner, email="keep@example.com", full_name="Keep")
    db.session.commit()
    row = b"new@example.com,New,\n"
    content = b"email,full_name,comment\n" + row * (50 * 1024 * 1024 // len(row))

    page = upload(client, content)

    assert page.status_code == 413
    assert "at most 16 MB" in page.get_data(as_text=True)
    assert saved(db, owner) == [("keep@example.com", "Keep", "")]


def test_successful_import_redirects_to_the_list(client, owner):
    response = upload(client, "email\nanna@example.com\n", follow_redirects=False)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/clients/")


def export(client) -> tuple[bytes, object]:
    response = client.get("/clients/export.csv")
    assert response.status_code == 200
    return response.get_data(), response


def test_export_is_utf8_with_bom_and_names_the_date(client, db, owner):
    ClientFactory(owner=owner, email="anna@example.com", full_name="Анна Петрова",
                  comment="Пишет, что \"всё\" хорошо\nвторая строка")
    ClientFactory(owner=owner, email="gone@example.com",
                  unsubscribed_at=datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc))
    db.session.commit()

    body, response = export(client)

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="clients-{date.today().isoformat()}.csv"'
    )
    assert body.startswith(BOM)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["email", "full_name", "comment", "unsubscribed"],
        ["anna@example.com", "Анна Петрова", "Пишет, что \"всё\" хорошо\nвторая строка", ""],
        ["gone@example.com", "", "", "2024-05-01T12:30:00+00:00"],
    ]


def test_export_neutralises_spreadsheet_formulas(client, db, owner):
    ClientFactory(owner=owner, email="a@example.com", full_name="=HYPERLINK(\"http://x\")")
    ClientFactory(owner=owner, email="b@example.com", full_name="+7 900 000",
                  comment="-1")
    ClientFactory(owner=owner, email="c@example.com", full_name="@SUM(A1)",
                  comment="\tindented")
    ClientFactory(owner=owner, email="d@example.com", full_name="'=already quoted",
                  comment="plain - text")
    db.session.commit()

    body, _ = export(client)

    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))[1:]
    assert [row[1:3] for row in rows] == [
        ["'=HYPERLINK(\"http://x\")", ""],
        ["'+7 900 000", "'-1"],
        ["'@SUM(A1)", "'\tindented"],
        ["''=already quoted", "plain - text"],
    ]


def test_export_never_contains_another_users_clients(client, db, make_user, owner):
    other = make_user(email="other@example.com")
    ClientFactory(owner=other, email="secret@example.com", full_name="Secret")
    ClientFactory(owner=owner, email="mine@example.com")
    db.session.commit()

    body, _ = export(client)

    assert b"mine@example.com" in body
    assert b"secret" not in body.lower()


def test_export_then_import_gives_back_the_same_data(client, db, make_user, owner):
    originals = [
        ("anna@example.com", "Анна Петрова", "Пишет, что \"всё\" хорошо,\nно просит звонить"),
        ("boris@example.com", "Борис; Иванов", "комментарий с ; и , и \"кавычками\""),
        ("carl@example.com", "", ""),
        ("dash@example.com", "-Dash-", "=1+1"),
        ("quote@example.com", "O'Brien", "'=kept apostrophe"),
        ("-leading@example.com", "Minus", "@home"),
    ]
    for email, full_name, comment in originals:
        ClientFactory(owner=owner, email=email, full_name=full_name,
                      comment=comment)
    db.session.commit()
    body, _ = export(client)

    # The same file into a fresh account: the same clients come out.
    second = make_user(email="second@example.com")

    other_browser = client.application.test_client()
    AuthActions(other_browser).login("second@example.com")
    page = upload(other_browser, body)
    assert "Added: 6, updated: 0, unchanged: 0." in page.get_data(as_text=True)
    assert saved(db, second) == saved(db, owner) == sorted(originals)

    # And into the same account: nothing changes.
    page = upload(client, body)
    assert "Added: 0, updated: 0, unchanged: 6." in page.get_data(as_text=True)
    assert saved(db, owner) == sorted(originals)


def test_ten_thousand_rows_import_in_one_go(client, db, owner):
    existing = [
        ClientFactory(owner=owner, email=f"person{n:05d}@example.com", full_name="Old")
        for n in range(0, 10_000, 10)
    ]
    db.session.add_all(existing)
    db.session.commit()
    lines = ["email;full_name;comment"] + [
        f"Person{n:05d}@example.com;Человек {n};строка {n}" for n in range(10_000)
    ]

    page = upload(client, "\n".join(lines).encode("utf-8"))

    assert "Added: 9000, updated: 1000, unchanged: 0." in page.get_data(as_text=True)
    db.session.expire_all()
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Client).where(Client.owner_id == owner.id)
    )
    assert count == 10_000
    last = db.session.scalar(sa.select(Client).where(Client.email == "person09999@example.com"))
    assert (last.full_name, last.comment) == ("Человек 9999", "строка 9999")


def test_parser_names_physical_lines_of_multiline_rows():
    content = (
        'email,comment\n'
        'a@example.com,"one\ntwo\nthree"\n'
        '\n'
        'bad,"x"\n'
    ).encode()

    parsed = client_csv.parse_clients(content)

    assert [row.line for row in parsed.rows] == [2]
    assert [(row.line, row.value) for row in parsed.rejected] == [(6, "bad")]


def a_form_to_upload(client) -> tuple[str, str, str]:
    """The import form as the browser has it: (CSRF token, upload's name, its progress URL)."""
    page = client.get("/clients/import").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    token = re.search(r'name="progress_token" type="hidden" value="([^"]+)"', page).group(1)
    url = re.search(r'data-progress-url="([^"]+)"', page).group(1)
    return csrf, token, url


def send(client, csrf: str, token: str, content: str):
    return client.post("/clients/import", content_type="multipart/form-data", data={
        "csrf_token": csrf, "progress_token": token,
        "file": (io.BytesIO(content.encode()), "clients.csv")})


def many_rows(count: int) -> str:
    return "email,full_name\n" + "".join(f"c{n}@example.com,Клиент {n}\n" for n in range(count))


def test_the_page_waiting_for_an_upload_can_ask_how_far_it_has_got(client, db, owner):
    csrf, token, url = a_form_to_upload(client)
    assert url == f"/clients/import/progress/{token}"
    assert client.get(url).status_code == 404  # nothing sent under that name yet

    assert send(client, csrf, token, many_rows(3500)).status_code == 302

    assert client.get(url).get_json() == {"stage": "done", "done": 3500, "total": 3500,
                                          "percent": 100}
    assert len(saved(db, owner)) == 3500


def test_reading_a_big_file_is_reported_line_by_line(app, db, owner):
    from mailer.clients import services

    heard = []
    with app.test_request_context():
        services.import_clients(owner, many_rows(3500).encode(), skip_rejected=False,
                                progress=lambda stage, done, total, now=True: heard.append(
                                    (stage, done, total)))

    reading = [(done, total) for stage, done, total in heard if stage == "reading" and total]
    assert reading == [(1000, 3501), (2000, 3501), (3000, 3501)]  # the header is line 1
    assert [stage for stage, _, _ in heard if stage != "reading"] == ["checking", "saving", "done"]
    assert heard[-1] == ("done", 3500, 3500)


def test_a_refused_file_is_reported_refused(client, db, owner):
    csrf, token, url = a_form_to_upload(client)

    page = send(client, csrf, token, "email\nnot-an-address\nok@example.com\n")

    assert "Nothing was imported" in page.get_data(as_text=True)
    assert client.get(url).get_json()["stage"] == "refused"
    assert saved(db, owner) == []


def test_no_one_else_hears_how_an_upload_goes(app, client, db, owner, make_user):
    csrf, token, url = a_form_to_upload(client)
    send(client, csrf, token, many_rows(10))
    make_user(email="other@example.com")
    other = app.test_client()
    AuthActions(other).login("other@example.com")

    assert other.get(url).status_code == 404
    assert client.get("/clients/import/progress/not..a..token").status_code == 404
    assert client.get("/clients/import/progress/" + "a" * 65).status_code == 404
