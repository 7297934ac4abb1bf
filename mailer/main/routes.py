from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from mailer import page_cache
from mailer.auth import services as account_services
from mailer.config import LANGUAGES
from mailer.extensions import csrf
from mailer.main import services
from mailer.navigation import safe_next_url

bp = Blueprint("main", __name__)


@bp.route("/")
@page_cache.for_visitors("home", services.POSTS_SECONDS)
def index():
    # Managers and content managers own no mailings: their home shows the service's figures.
    own = services.figures(current_user) \
        if current_user.is_authenticated and current_user.has_workspace else None
    return render_template(
        "main/index.html",
        figures=services.home_figures(),
        own_figures=own,
        posts=services.home_posts(),
    )


@bp.route("/favicon.ico")
def favicon():
    """Browsers and feed readers ask for it whatever the page links to (the admin's pages too)."""
    return current_app.send_static_file("favicon.svg"), 200, {"Cache-Control": "public, max-age=604800"}


@bp.route("/healthz")
def healthz():
    """For load balancers and benchmarks: the app answers (no database, no template)."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """A visitor's choice lives in their session only, so forging it harms no one and their
    form carries no token (csrf-exempt in the app); a signed-in user's is saved to the
    account, so it must come from our own page."""
    if current_user.is_authenticated:
        csrf.protect()
    if code not in LANGUAGES:
        abort(404)
    session["language"] = code
    if current_user.is_authenticated:
        account_services.set_language(current_user, code)
    return redirect(safe_next_url(request.form.get("next")) or url_for("main.index"))
