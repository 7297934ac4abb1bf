from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_babel import format_decimal
from flask_babel import gettext as _
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from mailer.form_errors import no_nul_character
from mailer.messages.services import BODY_MAX_BYTES, SUBJECT_MAX


def _body_size(form, field) -> None:
    size = len(field.data.encode("utf-8", "surrogatepass")) if isinstance(field.data, str) else 0
    if size > BODY_MAX_BYTES:
        raise ValidationError(_("The message is too long: %(size)s kB, at most %(max)s kB.",
                                size=format_decimal(-(-size // 1000)), max=format_decimal(BODY_MAX_BYTES // 1000)))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class MessageForm(FlaskForm):
    subject = StringField(
        _l("Subject"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter a subject.")), Length(max=SUBJECT_MAX),
                    no_nul_character],
    )
    body = TextAreaField(
        _l("Body"),
        validators=[DataRequired(message=_l("Write the message.")), _body_size, no_nul_character],
        render_kw={"rows": 12},
    )
    submit = SubmitField(_l("Save"))
