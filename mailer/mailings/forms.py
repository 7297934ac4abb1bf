"""The mailing form, and the schedule fields it shares with the admin's mailing form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from mailer.labels import FREQUENCY_LABELS
from mailer.wall_clock import LOCAL_FORMAT



def _id_or_none(value) -> int | None:
    """A row id from the form; the empty first option (no message chosen yet) is None."""
    return None if value in ("", None) else int(value)


def start_field() -> DateTimeLocalField:
    return DateTimeLocalField(
        _l("Start"), format=LOCAL_FORMAT,
        validators=[InputRequired(message=_l("Enter the start date and time."))],
    )


def end_field() -> DateTimeLocalField:
    return DateTimeLocalField(
        _l("End"), format=LOCAL_FORMAT,
        validators=[InputRequired(message=_l("Enter the end date and time."))],
    )


def frequency_field() -> SelectField:
    # validate_choice off: the service refuses an unknown frequency with its own message.
    return SelectField(
        _l("Frequency"),
        choices=[SelectChoice(f.value, label) for f, label in FREQUENCY_LABELS.items()],
        validate_choice=False,
    )


class MailingForm(FlaskForm):
    message_id = SelectField(
        _l("Message"), coerce=_id_or_none, validate_choice=False,
        validators=[InputRequired(message=_l("Choose one of your messages."))],
    )
    client_ids = SelectMultipleField(_l("Clients"), coerce=int, validate_choice=False,
                                     validators=[Optional()])
    all_clients = BooleanField(_l("Send to all my clients"))
    start_at = start_field()
    end_at = end_field()
    frequency = frequency_field()
    submit = SubmitField(_l("Save"))
