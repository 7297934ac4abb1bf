"""Clients as CSV: checking one client's fields, reading an upload, writing an export.

Pure: text and bytes in, rows and problems out; the database is the
service's business (``client_services``).

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula, so the export puts an apostrophe in front of
such a cell (and of one that is already apostrophes followed by such a
character). The import removes exactly that one apostrophe again, so an
export imports back to the same data.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

EMAIL_MAX = 254
FULL_NAME_MAX = 200
COMMENT_MAX = 2000

COLUMNS = ("email", "full_name", "comment")
PROGRESS_ROWS = 1000  # rows between two reports of how far a file has been read
EXPORT_HEADER = ("email", "full_name", "comment", "unsubscribed")
BOM = "\ufeff"

# A cell a spreadsheet would evaluate, possibly behind apostrophes we added.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_PREFIXED_FORMULA = re.compile(r"'+[=+\-@\t\r]")
# Where a rejected row shows raw text instead of an e-mail, it is cut short.
RAW_SHOWN_MAX = 80


class FieldProblem(ValueError):
    """One field of a client is not acceptable; ``message`` is for the user."""

    def __init__(self, field_name: str, message):
        super().__init__(str(message))
        self.field = field_name
        self.message = message


class UnreadableFile(ValueError):
    """The upload is not a CSV file we can read at all; ``message`` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class ClientFields:
    """A client's fields, checked and normalised."""

    email: str
    full_name: str
    comment: str


@dataclass(frozen=True)
class CsvRow:
    line: int
    client: ClientFields


@dataclass(frozen=True)
class RejectedRow:
    line: int
    value: str  # the e-mail as written, or the raw row when there is none
    reason: object  # a lazy translated string


@dataclass
class ParsedFile:
    rows: list[CsvRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def clean_email(value: str | None) -> str:
    """The address in the one spelling we store (lower case); raises FieldProblem."""
    value = (value or "").strip()
    if not value:
        raise FieldProblem("email", _l("E-mail missing."))
    if len(value) > EMAIL_MAX:
        raise FieldProblem("email", _l("The e-mail is too long (at most %(max)d characters).",
                                       max=EMAIL_MAX))
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise FieldProblem("email", _l("Not a valid e-mail address.")) from None
    normalized = normalized.lower()
    if len(normalized) > EMAIL_MAX:
        raise FieldProblem("email", _l("The e-mail is too long (at most %(max)d characters).",
                                       max=EMAIL_MAX))
    return normalized


def clean_details(full_name: str | None, comment: str | None) -> tuple[str, str]:
    """A client's name and comment, stripped and checked; raises FieldProblem."""
    full_name = (full_name or "").strip()
    comment = (comment or "").strip()
    if len(full_name) > FULL_NAME_MAX:
        raise FieldProblem("full_name", _l("The name is too long (at most %(max)d characters).",
                                           max=FULL_NAME_MAX))
    if has_control_characters(full_name):
        raise FieldProblem("full_name", _l("The name must be one line without control characters."))
    if len(comment) > COMMENT_MAX:
        raise FieldProblem("comment", _l("The comment is too long (at most %(max)d characters).",
                                         max=COMMENT_MAX))
    return full_name, comment


def clean_fields(email: str | None, full_name: str | None, comment: str | None) -> ClientFields:
    """Check a client's fields (the form's rules, for every way in); raises FieldProblem."""
    clean = clean_email(email)
    full_name, comment = clean_details(full_name, comment)
    return ClientFields(email=clean, full_name=full_name, comment=comment)


def neutralise_formula(value: str) -> str:
    """The cell as exported: an apostrophe in front of anything a spreadsheet would run."""
    return "'" + value if _FORMULA_START.match(value) else value


def restore_formula(value: str) -> str:
    """Undo ``neutralise_formula`` (for cells read from a file)."""
    return value[1:] if _PREFIXED_FORMULA.match(value) else value


def _decode(raw: bytes) -> str:
    if not raw or not raw.strip():
        raise UnreadableFile(_l("The file is empty."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(
            _l("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
        ) from None
    if "\x00" in text:
        raise UnreadableFile(_l("This is not a CSV text file."))
    if not text.strip():
        raise UnreadableFile(_l("The file is empty."))
    return text


def _delimiter(text: str) -> str:
    """``;`` when the header line has more of them than commas (Excel in many locales)."""
    header_line = text.lstrip("\r\n").splitlines()[0]
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _column_positions(header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        name = name.strip().lower()
        if name in COLUMNS and name not in positions:
            positions[name] = index
    if "email" not in positions:
        raise UnreadableFile(
            _l("The file has no “email” column. Its first line must name the columns: "
               "email, full_name, comment.")
        )
    return positions


def _cell(cells: list[str], positions: dict[str, int], name: str) -> str:
    index = positions.get(name)
    if index is None or index >= len(cells):
        return ""
    return restore_formula(cells[index].strip()).strip()


def _shown_value(cells: list[str], email: str, delimiter: str) -> str:
    if email:
        return email[:RAW_SHOWN_MAX]
    raw = delimiter.join(cells)
    return raw if len(raw) <= RAW_SHOWN_MAX else raw[: RAW_SHOWN_MAX - 1] + "…"


def _telling(reader, text: str, on_line: Callable[[int, int], None] | None) -> Iterator[list]:
    """The reader's rows, telling ``on_line(line, lines)`` every ``PROGRESS_ROWS`` rows."""
    lines = text.count("\n") + (not text.endswith("\n"))
    for count, cells in enumerate(reader, 1):
        if on_line is not None and count % PROGRESS_ROWS == 0:
            on_line(reader.line_num, lines)
        yield cells


def parse_clients(raw: bytes, on_line: Callable[[int, int], None] | None = None) -> ParsedFile:
    """Read an uploaded CSV of clients.

    Lines are the file's physical lines (the header is line 1; a row whose
    quoted comment spans lines is named by its first line). Rows with every
    cell blank are skipped silently. Raises UnreadableFile when the file as a
    whole cannot be used. ``on_line(line, lines)`` hears how far the reading is,
    every ``PROGRESS_ROWS`` rows.
    """
    text = _decode(raw)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    parsed = ParsedFile()
    positions: dict[str, int] | None = None
    first_line_of: dict[str, int] = {}
    last_line = 0
    try:
        for cells in _telling(reader, text, on_line):
            line = last_line + 1
            last_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if positions is None:
                positions = _column_positions(cells)
                continue
            email = _cell(cells, positions, "email")
            try:
                clean = clean_email(email)
            except FieldProblem as problem:
                parsed.rejected.append(
                    RejectedRow(line, _shown_value(cells, email, delimiter), problem.message)
                )
                continue
            # The first row with an address wins, even if it is rejected for its
            # name: the report then names both problems in one go.
            if clean in first_line_of:
                parsed.rejected.append(
                    RejectedRow(line, email, _l("Duplicate of line %(line)d.",
                                                line=first_line_of[clean]))
                )
                continue
            first_line_of[clean] = line
            try:
                full_name, comment = clean_details(
                    _cell(cells, positions, "full_name"), _cell(cells, positions, "comment")
                )
            except FieldProblem as problem:
                parsed.rejected.append(RejectedRow(line, email, problem.message))
                continue
            parsed.rows.append(CsvRow(line, ClientFields(clean, full_name, comment)))
    except csv.Error:
        raise UnreadableFile(
            _l("The file could not be read as CSV near line %(line)d.", line=last_line + 1)
        ) from None
    if positions is None:
        raise UnreadableFile(_l("The file is empty."))
    if not parsed.rows and not parsed.rejected:
        raise UnreadableFile(_l("The file has a header but no clients below it."))
    return parsed


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text, header first, BOM in front so Excel reads it as UTF-8, in chunks of rows.

    Every text cell goes through ``neutralise_formula``; ``None`` is an empty
    cell; numbers are written as they are.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(header)
    yield BOM + flush()
    for count, row in enumerate(rows, start=1):
        writer.writerow([
            "" if cell is None else neutralise_formula(cell) if isinstance(cell, str) else cell
            for cell in row
        ])
        if count % 500 == 0:
            yield flush()
    rest = flush()
    if rest:
        yield rest


def export_lines(
    rows: Iterable[tuple[str, str, str, datetime | None]],
) -> Iterator[str]:
    """CSV text of clients (see ``csv_lines``)."""
    return csv_lines(EXPORT_HEADER, (
        (email, full_name or "", comment or "",
         unsubscribed_at.isoformat(timespec="seconds") if unsubscribed_at else "")
        for email, full_name, comment, unsubscribed_at in rows
    ))
