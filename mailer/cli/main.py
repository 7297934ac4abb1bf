"""The ``mailer`` command of an installed mailer: every ``flask`` command of the app
(``mailer db upgrade``, ``mailer doctor``, ``mailer cron sync``, ``mailer scheduler``…)."""
from flask.cli import FlaskGroup


def _app():
    from mailer.wsgi import app

    return app


def main() -> None:
    FlaskGroup(name="mailer", create_app=_app, load_dotenv=False,
               help="Mailer's commands (the flask commands of this app).").main()
