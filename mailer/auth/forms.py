from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from mailer.api_tokens import DEFAULT_LIFETIME, LIFETIMES, NAME_LENGTH
from mailer.auth.services import PASSWORD_MAX, PASSWORD_MIN
from mailer.form_errors import no_nul_character


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _mailable(form, field) -> None:
    """Account e-mails (Flask-Mail) cannot be sent to an address with a non-ASCII local part."""
    if not field.errors and not (field.data or "").rpartition("@")[0].isascii():
        raise ValidationError(_l("We cannot send e-mail to an address with characters such as "
                                 "ü or я before the @. Use another address."))


def _email_field(label=_l("E-mail"), sends_mail=False) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter your e-mail.")),
            Length(max=254, message=_l("The e-mail is too long.")),
            Email(message=_l("Enter a valid e-mail address."), check_deliverability=False),
            *([_mailable] if sends_mail else []),
        ],
        render_kw={"autocomplete": "email", "type": "email"},
    )


def _new_password_fields(label=_l("Password")):
    password = PasswordField(
        label,
        validators=[
            DataRequired(message=_l("Enter a password.")),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=_l("The password must be %(min)d to %(max)d characters long.",
                           min=PASSWORD_MIN, max=PASSWORD_MAX),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    password2 = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, password2


def _timezone_choices() -> list[SelectChoice]:
    return [SelectChoice(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class RegisterForm(FlaskForm):
    email = _email_field(sends_mail=True)
    full_name = StringField(
        _l("Full name"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter your name.")), Length(max=200),
                    no_nul_character],
        render_kw={"autocomplete": "name"},
    )
    password, password2 = _new_password_fields()
    # Filled by static/js/timezone.js from the browser; checked by the service.
    timezone = HiddenField()
    submit = SubmitField(_l("Register"))


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Remember me"))
    submit = SubmitField(_l("Sign in"))


class EmailOnlyForm(FlaskForm):
    """Resend the verification link, or ask for a password reset link."""

    email = _email_field(sends_mail=True)
    submit = SubmitField(_l("Send the link"))


class ResetPasswordForm(FlaskForm):
    password, password2 = _new_password_fields(_l("New password"))
    submit = SubmitField(_l("Set the new password"))


class ProfileForm(FlaskForm):
    full_name = StringField(
        _l("Full name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter your name.")), Length(max=200),
                    no_nul_character],
    )
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    language = SelectField(
        _l("Language"), choices=[SelectChoice("ru", "Русский"), SelectChoice("en", "English")], validate_choice=False
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = _timezone_choices()


class SenderForm(FlaskForm):
    """The From name and address of the user's mailings, and a Reply-To (all optional)."""

    sender_name = StringField(_l("Sender name"), filters=[_strip],
                              validators=[Optional(), Length(max=200), no_nul_character])
    sender_email = StringField(
        _l("Sender address"), filters=[_strip],
        validators=[Optional(), Length(max=254, message=_l("The e-mail is too long.")),
                    Email(message=_l("Enter a valid e-mail address."), check_deliverability=False), _mailable],
        render_kw={"autocomplete": "email", "type": "email"},
    )
    reply_to = StringField(
        _l("Reply-To address"), filters=[_strip],
        validators=[Optional(), Length(max=254, message=_l("The e-mail is too long.")),
                    Email(message=_l("Enter a valid e-mail address."), check_deliverability=False), _mailable],
        render_kw={"autocomplete": "email", "type": "email"},
    )
    submit = SubmitField(_l("Save sender"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    password, password2 = _new_password_fields(_l("New password"))
    submit = SubmitField(_l("Change password"))


NO_EXPIRY = "never"  # the lifetime select's value for a token that lasts until revoked
_LIFETIME_LABELS = {30: _l("30 days"), 90: _l("90 days"), 365: _l("1 year"), None: _l("No expiry")}


def _lifetime_value(days: int | None) -> str:
    return NO_EXPIRY if days is None else str(days)


class ApiTokenForm(FlaskForm):
    """A new API token: what the program using it is called, and how long it lasts. The
    service (mailer.api_tokens) has the last word on both."""

    name = StringField(
        _l("Token name"), id="token-name", filters=[_strip],
        validators=[DataRequired(message=_l("Name the token after the program that will use it.")),
                    Length(max=NAME_LENGTH, message=_l("A token's name is at most 100 characters, without NUL.")),
                    no_nul_character],
        render_kw={"autocomplete": "off", "maxlength": NAME_LENGTH},
    )
    # Not checked here: an unknown value goes on to the service, which names the field.
    lifetime = SelectField(
        _l("Lifetime"), id="token-lifetime", validate_choice=False, default=_lifetime_value(DEFAULT_LIFETIME),
        choices=[SelectChoice(_lifetime_value(days), _LIFETIME_LABELS[days]) for days in LIFETIMES],
    )
    submit = SubmitField(_l("Create token"))

    @property
    def lifetime_days(self) -> int | str | None:
        """The chosen lifetime in days (None: no expiry); a value no option has, as sent."""
        by_value = {_lifetime_value(days): days for days in LIFETIMES}
        return by_value.get(self.lifetime.data, self.lifetime.data)
