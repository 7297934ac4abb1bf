"""The words a run records (on the Attempt and each Delivery, in English, as the log has them),
in one place, so that the pages can say what they mean in the reader's language
(``mailer.reports.replies``) while the recorded text stays as it was."""

STOPPED = "Stopped: "
REFUSED = "Refused: "
NOTHING_TO_SEND = "Nothing to send: no subscribed clients."

# Why a run stopped early (after STOPPED).
UNREACHABLE = "the mail server stayed unreachable"
NOT_SMTP = "the mail server answered something that is not SMTP"
LOGIN_REFUSED = "the mail server refused our login"
SENDER_REFUSED = "the mail server refused our sender address"
NOT_RENDERED = "the message cannot be rendered"
NO_LONGER_SENDING = "the mailing "  # "the mailing is paused now", "… belongs to a blocked user now"

# Why one letter was never offered to the server.
ADDRESS_UNSENDABLE = "not sent: the address holds spaces or control characters"
NO_SMTPUTF8 = "not sent: the mail server does not take international addresses (no SMTPUTF8)"
