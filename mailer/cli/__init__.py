"""``flask`` commands: users, seed, mail-sink, scheduler, force-mail, cron, doctor, bounces."""
from flask import Flask

from mailer.cli import bounces, cron, dev, doctor, force_mail, seed, users


def register(app: Flask) -> None:
    app.cli.add_command(users.users)
    app.cli.add_command(seed.seed)
    app.cli.add_command(dev.mail_sink)
    app.cli.add_command(dev.scheduler)
    app.cli.add_command(cron.cron)
    app.cli.add_command(force_mail.force_mail)
    app.cli.add_command(doctor.doctor)
    app.cli.add_command(bounces.bounces)
