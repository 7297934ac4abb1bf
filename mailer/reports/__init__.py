"""Reports: attempts across mailings (filters, CSV) and per-mailing statistics.

An owner sees the attempts of their own mailings; a manager or superuser
sees everyone's. Every query here is scoped by ``services.scope``.
"""
from mailer.reports.routes import bp

__all__ = ["bp"]
