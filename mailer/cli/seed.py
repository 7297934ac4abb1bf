"""``flask seed``: demo accounts and data, idempotent."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext

from mailer.auth.services import create_account, find_user_by_email
from mailer.blog.services import PostData, create_post
from mailer.clients.services import ClientData, create_client
from mailer.mailings.services import MailingData, create_mailing
from mailer.messages.services import MessageData, create_message
from mailer.models import Frequency, Role, User, utcnow

DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNTS = (
    ("demo@example.com", "Demo User", Role.USER),
    ("manager@example.com", "Demo Manager", Role.MANAGER),
    ("editor@example.com", "Demo Content Manager", Role.CONTENT_MANAGER),
)
DEMO_CLIENTS = (
    ("anna.petrova@example.com", "Анна Петрова", "Постоянный клиент"),
    ("ivan.sidorov@example.com", "Иван Сидоров", ""),
    ("olga.smirnova@example.com", "Ольга Смирнова", "Оптовые закупки"),
    ("john.smith@example.com", "John Smith", "Prefers English"),
    ("maria.garcia@example.com", "Maria Garcia", ""),
)
DEMO_POSTS = (
    ("Как не попасть в спам", "Пишите тем, кто согласился получать ваши письма, и давайте "
     "им возможность отписаться в одно нажатие."),
    ("Лучшее время для рассылки", "Утро вторника и четверга по времени получателя — хорошее "
     "начало. Проверьте на своих клиентах."),
    ("Personalise every message", "Use {{ client.full_name }} in the body: people open mail "
     "that greets them by name."),
    ("Weekly or monthly?", "Send as often as you have something worth reading, and no more."),
)


# A newsletter as a small business writes one: Markdown of a few kB, with a table and links.
DEMO_NEWSLETTER = """# Новости пекарни «Колобок»

Здравствуйте, {{ client.full_name|default("дорогой покупатель") }}!

Весна пришла и к нам: в витрине появились новые пироги, а по субботам мы снова
печём хлеб на закваске. Рассказываем, что нового за неделю.

## Новинки недели

- **Пирог с ревенём и клубникой** — по рецепту бабушки нашего пекаря;
- **Ржаной хлеб с тмином** — на закваске, которой уже двенадцать лет;
- **Круассаны с фисташковым кремом** — только по выходным, пока не закончатся.

## Цены

| Товар | Вес | Цена |
|---|---:|---:|
| Пирог с ревенём | 600 г | 520 ₽ |
| Ржаной хлеб с тмином | 450 г | 180 ₽ |
| Круассан с фисташкой | 90 г | 210 ₽ |
| Набор печенья «Ассорти» | 300 г | 490 ₽ |

## Мастер-класс

В субботу в 11:00 — мастер-класс по выпечке для детей и взрослых. Приходите всей
семьёй: фартуки и муку дадим, с собой заберёте всё, что испечёте. Запись по
телефону [+7 (423) 200-00-00](tel:+74232000000) или на сайте:
https://bakery.example/master-class

> «Лучший хлеб в городе, а круассаны — как в Париже». — отзыв Марии, наша постоянная гостья

{% if client.full_name %}
{{ client.full_name }}, для вас по этому письму скидка 10 % на первый заказ на сайте.
{% else %}
По этому письму — скидка 10 % на первый заказ на сайте.
{% endif %}

Ждём вас каждый день с 8:00 до 21:00 по адресу: ул. Светланская, д. 1.

С теплом,
команда пекарни «Колобок»
"""


def _account(email: str, full_name: str, role: Role) -> tuple[User, bool]:
    user = find_user_by_email(email)
    if user is not None:
        return user, False
    return create_account(email, DEMO_PASSWORD, full_name=full_name, role=role, verified=True), True


def _demo_data(owner: User, editor: User) -> None:
    """Clients, messages, a weekly mailing and blog posts, each made by its service, as a user
    would make them (so the demo data passes the checks users' data passes)."""
    for email, name, comment in DEMO_CLIENTS:
        create_client(owner, ClientData(email=email, full_name=name, comment=comment))
    welcome = create_message(owner, MessageData(
        subject="Новости недели: весенние пироги и мастер-класс", body=DEMO_NEWSLETTER))
    create_message(owner, MessageData(
        subject="Monthly reminder",
        body="Hello {{ client.full_name }},\n\nthis is your monthly reminder."))
    now = utcnow()
    for index, (title, body) in enumerate(DEMO_POSTS):
        create_post(editor, PostData(title=title, body=body,
                                     published_at=now - timedelta(days=index)))
    tomorrow = datetime.now(ZoneInfo(owner.timezone)).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(10))
    create_mailing(owner, MailingData(
        message_id=welcome.id,
        start_local=start,
        end_local=start + timedelta(days=90),
        frequency=Frequency.WEEKLY,
        timezone=owner.timezone,
        all_clients=True,
    ))


@click.command("seed")
@click.option("--allow-production", is_flag=True, help="Seed even when APP_ENV=production.")
@with_appcontext
def seed(allow_production: bool):
    """Create the demo accounts and their data (safe to run again)."""
    if current_app.config["APP_ENV"] == "production" and not allow_production:
        raise click.ClickException(
            "Refusing to create demo accounts with a known password in production "
            "(pass --allow-production if you mean it)."
        )
    accounts = {email: _account(email, name, role) for email, name, role in DEMO_ACCOUNTS}
    owner, owner_is_new = accounts["demo@example.com"]
    editor, _ = accounts["editor@example.com"]
    if owner_is_new:
        _demo_data(owner, editor)
    click.echo("Demo accounts (password for all: %s):" % DEMO_PASSWORD)
    for email, _name, role in DEMO_ACCOUNTS:
        state = "created" if accounts[email][1] else "already there"
        click.echo(f"  {email:<24} {role.value:<16} {state}")
