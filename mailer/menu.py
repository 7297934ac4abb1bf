"""The main menu, by role. An entry shows once its blueprint is registered."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass(frozen=True)
class MenuEntry:
    endpoint: str
    label: object
    visible_to: Callable[[object], bool]


def _anyone(user) -> bool:
    return True


def _owner_of_mailings(user) -> bool:
    return user.is_authenticated and user.has_workspace


def _reader_of_reports(user) -> bool:
    return user.is_authenticated and not user.is_content_manager


def _manager(user) -> bool:
    return user.is_authenticated and (user.is_manager or user.is_superuser)


def _staff(user) -> bool:
    return user.is_authenticated and user.is_staff


MENU = (
    MenuEntry("main.index", _l("Home"), _anyone),
    MenuEntry("mailings.list_mailings", _l("Mailings"), _owner_of_mailings),
    MenuEntry("clients.list_clients", _l("Clients"), _owner_of_mailings),
    MenuEntry("messages.list_messages", _l("Messages"), _owner_of_mailings),
    MenuEntry("reports.list_attempts", _l("Reports"), _reader_of_reports),
    MenuEntry("manager.list_mailings", _l("All mailings"), _manager),
    MenuEntry("manager.list_users", _l("Users"), _manager),
    MenuEntry("blog.index", _l("Blog"), _anyone),
    MenuEntry("admin.index", _l("Admin"), _staff),
    MenuEntry("devmail.inbox", _l("Sent mail (dev)"), _anyone),
)


@dataclass(frozen=True)
class MenuItem:
    url: str
    label: object
    active: bool


def menu_items() -> list[MenuItem]:
    items = []
    for entry in MENU:
        if entry.endpoint not in current_app.view_functions or not entry.visible_to(current_user):
            continue
        items.append(
            MenuItem(
                url=url_for(entry.endpoint),
                label=entry.label,
                active=request.endpoint == entry.endpoint,
            )
        )
    return items
