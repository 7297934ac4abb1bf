"""What the statuses and frequencies are called, in the reader's language: one table each, for the pages, the
admin and the filters alike.

Each table is written once, as message ids (``N_`` marks them for the catalog), and
comes two ways: lazily translated (``*_LABELS``, for forms and the admin, translated
when shown) and, for templates, translated once per render by ``template_locale``
(``TEMPLATE_TABLES``), since a list of 25 mailings shows 75 of them.
"""
from flask_babel import lazy_gettext as _l

from mailer.models import AttemptStatus, Bounce, Frequency, MailingStatus


def N_(msgid: str) -> str:  # noqa: N802 (gettext's own name for "translated elsewhere")
    """``msgid`` as it is: marked for the catalog here, translated where it is shown."""
    return msgid


MAILING_STATUS_NAMES = {
    MailingStatus.CREATED: N_("created"),
    MailingStatus.RUNNING: N_("running"),
    MailingStatus.PAUSED: N_("paused"),
    MailingStatus.STOPPED: N_("stopped"),
    MailingStatus.FINISHED: N_("finished"),
}

FREQUENCY_NAMES = {
    Frequency.DAILY: N_("daily"),
    Frequency.WEEKLY: N_("weekly"),
    Frequency.MONTHLY: N_("monthly"),
}

ATTEMPT_STATUS_NAMES = {
    AttemptStatus.SENDING: N_("sending"),
    AttemptStatus.SUCCESS: N_("success"),
    AttemptStatus.PARTIAL: N_("partial"),
    AttemptStatus.FAILURE: N_("failure"),
}

BOUNCE_NAMES = {
    Bounce.HARD: N_("bounced"),
    Bounce.SOFT: N_("bounced, temporarily"),
    Bounce.COMPLAINT: N_("marked as spam"),
}


def _lazy(names: dict) -> dict:
    return {key: _l(msgid) for key, msgid in names.items()}


MAILING_STATUS_LABELS = _lazy(MAILING_STATUS_NAMES)
FREQUENCY_LABELS = _lazy(FREQUENCY_NAMES)
ATTEMPT_STATUS_LABELS = _lazy(ATTEMPT_STATUS_NAMES)
BOUNCE_LABELS = _lazy(BOUNCE_NAMES)

# The templates' names for the tables.
TEMPLATE_TABLES = {
    "mailing_status_labels": MAILING_STATUS_NAMES,
    "frequency_labels": FREQUENCY_NAMES,
    "attempt_status_labels": ATTEMPT_STATUS_NAMES,
    "bounce_labels": BOUNCE_NAMES,
}
