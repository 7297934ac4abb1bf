"""A CSV file for the browser to save, streamed as it is written."""
from __future__ import annotations

from datetime import date
from typing import Iterable

from flask import Response, stream_with_context


def csv_download(lines: Iterable[str], stem: str) -> Response:
    """``lines`` as ``<stem>-<today>.csv``, never cached (it holds the user's own data)."""
    filename = f"{stem}-{date.today().isoformat()}.csv"
    return Response(
        stream_with_context(line.encode("utf-8") for line in lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
