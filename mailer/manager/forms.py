from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from mailer.form_errors import no_nul_character


class StopForm(FlaskForm):
    reason = StringField(
        _l("Reason (the owner sees it)"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired(message=_l("Say why the mailing is stopped.")),
                    Length(max=500, message=_l("At most %(max)d characters.", max=500)),
                    no_nul_character],
    )
    submit = SubmitField(_l("Stop the mailing"))
