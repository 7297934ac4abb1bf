"""The public blog: ``/blog/`` (list), ``/blog/<id>`` (article) and ``/uploads/<file>`` (images)."""
from mailer.blog.routes import bp

__all__ = ["bp"]
