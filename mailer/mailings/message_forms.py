from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from mailer.form_errors import no_nul_character

SUBJECT_MAX = 255
BODY_MAX = 50_000


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
        validators=[DataRequired(message=_l("Write the message.")), Length(max=BODY_MAX),
                    no_nul_character],
        render_kw={"rows": 12},
    )
    submit = SubmitField(_l("Save"))
