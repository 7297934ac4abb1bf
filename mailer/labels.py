"""What the statuses and frequencies are called, in the reader's language: one table each, for the pages, the
admin and the filters alike."""
from flask_babel import lazy_gettext as _l

from mailer.models import AttemptStatus, Bounce, Frequency, MailingStatus

MAILING_STATUS_LABELS = {
    MailingStatus.CREATED: _l("created"),
    MailingStatus.RUNNING: _l("running"),
    MailingStatus.PAUSED: _l("paused"),
    MailingStatus.STOPPED: _l("stopped"),
    MailingStatus.FINISHED: _l("finished"),
}

FREQUENCY_LABELS = {
    Frequency.DAILY: _l("daily"),
    Frequency.WEEKLY: _l("weekly"),
    Frequency.MONTHLY: _l("monthly"),
}

ATTEMPT_STATUS_LABELS = {
    AttemptStatus.SENDING: _l("sending"),
    AttemptStatus.SUCCESS: _l("success"),
    AttemptStatus.PARTIAL: _l("partial"),
    AttemptStatus.FAILURE: _l("failure"),
}

BOUNCE_LABELS = {
    Bounce.HARD: _l("bounced"),
    Bounce.SOFT: _l("bounced, temporarily"),
    Bounce.COMPLAINT: _l("marked as spam"),
}
