from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from mailer import api_tokens, senders, tokens
from mailer.auth import services
from mailer.auth.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    EmailOnlyForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    SenderForm,
)
from mailer.errors import ServiceError
from mailer.extensions import limiter
from mailer.form_errors import attach_error
from mailer.navigation import safe_next_url

bp = Blueprint("auth", __name__)


def _sign_in_limit() -> str:
    return current_app.config["RATELIMIT_SIGN_IN"]


def _account_mail_limit() -> str:
    return current_app.config["RATELIMIT_ACCOUNT_MAIL"]


def _form_error(form, error: ServiceError) -> None:
    attach_error(form, error.message, error.field)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_account_mail_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register(
                services.Registration(
                    email=form.email.data,
                    full_name=form.full_name.data,
                    password=form.password.data,
                    timezone=form.timezone.data,
                    language=str(get_locale()),
                )
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            if services.send_verification(user):
                flash(_("Account created. We sent a confirmation link to %(email)s.",
                        email=user.email), "success")
            else:
                flash(_("Account created, but the confirmation e-mail could not be sent. "
                        "Try sending it again in a few minutes."), "warning")
            return redirect(url_for("auth.resend_verification", email=user.email))
    return render_template("auth/register.html", form=form)


@bp.route("/verify/<token>")
def verify_email(token: str):
    try:
        services.verify_email(token)
    except tokens.TokenExpired:
        flash(_("This confirmation link has expired. Send yourself a new one."), "danger")
        return redirect(url_for("auth.resend_verification"))
    except tokens.TokenInvalid:
        flash(_("This confirmation link is not valid. Send yourself a new one."), "danger")
        return redirect(url_for("auth.resend_verification"))
    flash(_("Your e-mail is confirmed. You can sign in now."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(_account_mail_limit, methods=["POST"])
def resend_verification():
    form = EmailOnlyForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"]
    if form.validate_on_submit():
        services.resend_verification(form.email.data)
        flash(_("If an unconfirmed account uses this e-mail, we sent it a new link."), "info")
        return redirect(url_for("auth.login"))
    return render_template(
        "auth/email_link.html",
        form=form,
        heading=_("Confirm your e-mail"),
        intro=_("Open the link in the e-mail we sent you. The link works for 48 hours. "
                "No e-mail? Check the spam folder or send a new link."),
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def login():
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("main.index"))
    form = LoginForm()
    unverified_email = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.EmailNotVerified as error:
            unverified_email = error.user.email
            form.form_errors.append(error.message)
        except ServiceError as error:
            _form_error(form, error)
        else:
            login_user(user, remember=form.remember.data)
            # This browser keeps the user's language after they sign out (or are signed out).
            session["language"] = user.language
            return redirect(next_url or url_for("main.index"))
    return render_template("auth/login.html", form=form, unverified_email=unverified_email)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_account_mail_limit, methods=["POST"])
def request_reset():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        if services.request_password_reset(form.email.data):
            flash(_("If an account uses this e-mail, we sent it a link to reset the password. "
                    "The link works for one hour."), "info")
            return redirect(url_for("auth.login"))
        flash(_("The e-mail could not be sent right now. Try again in a few minutes."), "warning")
    return render_template(
        "auth/email_link.html",
        form=form,
        heading=_("Reset password"),
        intro=_("Enter the e-mail of your account and we will send you a link "
                "to set a new password."),
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def reset_password(token: str):
    try:
        services.user_for_reset_token(token)
    except tokens.TokenExpired:
        flash(_("This reset link has expired. Ask for a new one."), "danger")
        return redirect(url_for("auth.request_reset"))
    except tokens.TokenInvalid:
        flash(_("This reset link is not valid or was already used. Ask for a new one."), "danger")
        return redirect(url_for("auth.request_reset"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        services.reset_password(token, form.password.data)
        logout_user()
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            services.update_profile(
                current_user,
                services.ProfileChange(
                    full_name=form.full_name.data,
                    timezone=form.timezone.data,
                    language=form.language.data,
                ),
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            session["language"] = current_user.language
            flash(_("Profile saved."), "success")
            return redirect(url_for("auth.profile"))
    return _profile_page(form=form)


def _profile_page(new_token: api_tokens.NewToken | None = None, **forms):
    forms.setdefault("form", ProfileForm(obj=current_user))
    forms.setdefault("password_form", ChangePasswordForm())
    forms.setdefault("sender_form", SenderForm(obj=current_user))
    holds_tokens = api_tokens.may_hold_tokens(current_user)
    if holds_tokens:
        forms.setdefault("token_form", ApiTokenForm(formdata=None))
    return render_template("auth/profile.html", sender_state=senders.sender_state(current_user, current_app.config),
                           sender_domains=senders.allowed_domains(current_app.config), holds_tokens=holds_tokens,
                           api_tokens=api_tokens.tokens_of(current_user) if holds_tokens else [],
                           new_token=new_token, **forms)


@bp.route("/profile/sender", methods=["POST"])
@login_required
@limiter.limit(_account_mail_limit)
def update_sender():
    sender_form = SenderForm()
    if sender_form.validate_on_submit():
        try:
            sent = services.update_sender(current_user, services.SenderChange(
                name=sender_form.sender_name.data or "", email=sender_form.sender_email.data or "",
                reply_to=sender_form.reply_to.data or ""))
        except ServiceError as error:
            _form_error(sender_form, error)
        else:
            if sent:
                flash(_("We sent a confirmation link to %(email)s. Your mailings come from it once "
                        "the link is opened.", email=current_user.sender_email), "success")
            else:
                flash(_("Sender saved."), "success")
            return redirect(url_for("auth.profile"))
    return _profile_page(sender_form=sender_form), 400


@bp.route("/sender/confirm/<token>")
def confirm_sender(token: str):
    try:
        user = services.confirm_sender(token)
    except tokens.TokenExpired:
        flash(_("This confirmation link has expired. Save the sender address again for a new one."), "danger")
        return redirect(url_for("auth.profile"))
    except tokens.TokenInvalid:
        flash(_("This confirmation link is not valid."), "danger")
        return redirect(url_for("auth.profile"))
    flash(_("Confirmed: mailings can now come from %(email)s.", email=user.sender_email), "success")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/password", methods=["POST"])
@login_required
@limiter.limit(_sign_in_limit)
def change_password():
    password_form = ChangePasswordForm()
    if password_form.validate_on_submit():
        try:
            services.change_password(
                current_user, password_form.current_password.data, password_form.password.data
            )
        except ServiceError as error:
            _form_error(password_form, error)
        else:
            # The session token rotated: sign in again under the new one.
            login_user(current_user._get_current_object())
            flash(_("Password changed. Other devices were signed out."), "success")
            return redirect(url_for("auth.profile"))
    return _profile_page(password_form=password_form), 400


def _token_holders_only() -> None:
    if not api_tokens.may_hold_tokens(current_user):
        abort(403)


@bp.route("/profile/api-tokens", methods=["POST"])
@login_required
def create_api_token():
    _token_holders_only()
    token_form = ApiTokenForm()
    if token_form.validate_on_submit():
        try:
            new_token = api_tokens.create_token(current_user, token_form.name.data, token_form.lifetime_days)
        except ServiceError as error:
            _form_error(token_form, error)
        else:
            # The secret is in this page only: no redirect, flash or session could keep it, and
            # neither may a cache.
            response = make_response(_profile_page(new_token=new_token))
            response.headers["Cache-Control"] = "no-store"
            return response
    return _profile_page(token_form=token_form), 400


@bp.route("/profile/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_api_token(token_id: int):
    _token_holders_only()
    if not api_tokens.revoke_token(current_user, token_id):
        abort(404)
    flash(_("Token revoked."), "success")
    return redirect(url_for("auth.profile"))
