from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from mailer.form_errors import no_nul_character
from mailer.clients.csv_io import COMMENT_MAX, EMAIL_MAX, FULL_NAME_MAX, has_control_characters


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _one_line(form, field) -> None:
    if field.data and has_control_characters(field.data):
        raise ValidationError(_l("The name must be one line without control characters."))


class ClientForm(FlaskForm):
    email = StringField(
        _l("E-mail"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter the client's e-mail.")),
            Length(max=EMAIL_MAX, message=_l("The e-mail is too long (at most %(max)d characters).",
                                             max=EMAIL_MAX)),
            Email(message=_l("Enter a valid e-mail address."), check_deliverability=False),
        ],
        render_kw={"type": "email", "autocomplete": "off"},
    )
    full_name = StringField(
        _l("Full name"),
        filters=[_strip],
        validators=[
            Length(max=FULL_NAME_MAX, message=_l("The name is too long (at most %(max)d characters).",
                                                 max=FULL_NAME_MAX)),
            _one_line,
        ],
        render_kw={"autocomplete": "off"},
    )
    comment = TextAreaField(
        _l("Comment"),
        filters=[_strip],
        validators=[
            Length(max=COMMENT_MAX, message=_l("The comment is too long (at most %(max)d characters).",
                                               max=COMMENT_MAX)),
            no_nul_character,
        ],
        render_kw={"rows": 4},
    )
    submit = SubmitField(_l("Save"))


class ImportClientsForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(message=_l("Choose a CSV file to upload."))],
        render_kw={"accept": ".csv,text/csv"},
    )
    skip_rejected = BooleanField(_l("Import the valid rows and skip the rejected ones"))
    # Names this upload for the page asking how far it has got (import_progress).
    progress_token = HiddenField()
    submit = SubmitField(_l("Import"))
