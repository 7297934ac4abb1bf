from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from mailer.models import Frequency

FREQUENCY_LABELS = {
    Frequency.DAILY: _l("daily"),
    Frequency.WEEKLY: _l("weekly"),
    Frequency.MONTHLY: _l("monthly"),
}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _id_or_none(value) -> int | None:
    """A row id from the form; the empty first option (no message chosen yet) is None."""
    return None if value in ("", None) else int(value)


class MailingForm(FlaskForm):
    message_id = SelectField(
        _l("Message"), coerce=_id_or_none, validate_choice=False,
        validators=[InputRequired(message=_l("Choose one of your messages."))],
    )
    client_ids = SelectMultipleField(_l("Clients"), coerce=int, validate_choice=False,
                                     validators=[Optional()])
    all_clients = BooleanField(_l("Send to all my clients"))
    start_at = DateTimeLocalField(
        _l("Start"), format=LOCAL_FORMAT,
        validators=[InputRequired(message=_l("Enter the start date and time."))],
    )
    end_at = DateTimeLocalField(
        _l("End"), format=LOCAL_FORMAT,
        validators=[InputRequired(message=_l("Enter the end date and time."))],
    )
    frequency = SelectField(
        _l("Frequency"),
        choices=[SelectChoice(f.value, label) for f, label in FREQUENCY_LABELS.items()],
        validate_choice=False,
    )
    submit = SubmitField(_l("Save"))
