from collections import Counter

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import Select, html_params

from mailer.labels import ATTEMPT_STATUS_LABELS



class LongSelect(Select):
    """A select of a thousand mailings, written as WTForms writes it but an option in one
    f-string: the library's general way (a choice object, then attributes gathered and
    escaped one by one) cost 50 µs an option, most of the report's page."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        chosen = field.data
        options = "".join(
            f'<option {"selected " if choice.value == chosen else ""}value="{escape(choice.value)}">'
            f"{escape(choice.label)}</option>" for choice in field.choices)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class AttemptFilterForm(FlaskForm):
    """The report's filter, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    # Mailing and status stay text: the service decides what is known, so an
    # id that is not the viewer's gets the same answer as one that does not exist.
    mailing = SelectField(_l("Mailing"), validate_choice=False, validators=[Optional()],
                          widget=LongSelect())
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any status"))]
        + [SelectChoice(status.value, label) for status, label in ATTEMPT_STATUS_LABELS.items()],
        validate_choice=False,
        validators=[Optional()],
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(lazy_pgettext("last day of a date range", "To"), validators=[Optional()])

    def set_mailings(self, mailings, with_owner: bool) -> None:
        subjects = Counter(m.subject for m in mailings)
        choices = [SelectChoice("", _l("All mailings"))]
        for mailing in mailings:
            label = mailing.subject
            if subjects[mailing.subject] > 1:
                label = f"{label} (#{mailing.id})"
            if with_owner:
                label = f"{label} — {mailing.owner_email}"
            choices.append(SelectChoice(str(mailing.id), label))
        self.mailing.choices = choices
