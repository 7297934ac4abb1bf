from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from mailer.labels import ATTEMPT_STATUS_LABELS


class AttemptFilterForm(FlaskForm):
    """The report's filter, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    # Mailing and status stay text: the service decides what is known, so an
    # id that is not the viewer's gets the same answer as one that does not exist.
    mailing = SelectField(_l("Mailing"), validate_choice=False, validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any status"))]
        + [SelectChoice(status.value, label) for status, label in ATTEMPT_STATUS_LABELS.items()],
        validate_choice=False,
        validators=[Optional()],
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(lazy_pgettext("last day of a date range", "To"), validators=[Optional()])

    def set_mailings(self, chosen: tuple[int, str] | None) -> None:
        """"All mailings" and the one chosen (its id and label), if any: the others are found
        by searching (``reports.mailings_json``), so the page does not list a thousand."""
        self.mailing.choices = [SelectChoice("", _l("All mailings"))] + (
            [SelectChoice(str(chosen[0]), chosen[1])] if chosen else [])
