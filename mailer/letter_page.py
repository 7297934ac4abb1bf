"""A letter's HTML shown on its own, for a sandboxed frame on one of our pages.

The letter runs nothing and reaches nothing of ours: no script, no form, no
plugin, only its inlined styles and its images; only our own pages may frame it.
"""
from flask import Response, make_response

LETTER_CSP = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
              "sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def letter_response(html: str) -> Response:
    response = make_response(html)
    response.headers["Content-Security-Policy"] = LETTER_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response
