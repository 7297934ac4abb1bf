"""SMTP connections with a timeout on every network step.

Flask-Mail 0.10 opens ``smtplib.SMTP(server, port)`` with no timeout, so a
mail server that accepts the connection and then says nothing would hang the
request for good. ``TimeoutMail`` is Flask-Mail with ``MAIL_TIMEOUT`` applied
to the connection (and so to every read and write on it).
"""
import smtplib

import flask_mail
from flask import current_app


# What sending one account e-mail may raise: the server's refusal, or the network's failure.
MAIL_ERRORS = (smtplib.SMTPException, OSError)


class TimeoutConnection(flask_mail.Connection):
    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT"]
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        try:
            if self.mail.use_tls:
                host.starttls()
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()
            raise
        return host


class TimeoutMail(flask_mail.Mail):
    def connect(self) -> TimeoutConnection:
        return TimeoutConnection(current_app.extensions["mail"])
