"""The admin's views. Every save and delete goes through the service of its model.

Posts go through ``mailer.blog.services`` (image files, cache hook), mailings
through ``mailing_services`` (so cron is kept in step exactly as for a mailing
made on the site), clients and messages through their workspace services, and
blocking a user through the manager service.
"""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, flash, request
from flask_admin import AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.model import typefmt
from flask_babel import format_datetime, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from mailer import wall_clock
from mailer.admin import forms
from mailer.auth import services as accounts
from mailer.blog import services as blog_services
from mailer.extensions import db
from mailer.form_errors import attach_error
from mailer.labels import FREQUENCY_LABELS, MAILING_STATUS_LABELS
from mailer.clients import services as client_services
from mailer.mailings import services as mailing_services
from mailer.messages import services as message_services
from mailer.errors import ServiceError
from mailer.models import Client, Mailing, Message, Role, User, is_row_id, named_address

log = logging.getLogger(__name__)



# --- who may open what ---------------------------------------------------------------------

def is_staff(user) -> bool:
    """Content managers and superusers: the admin is theirs (the menu shows it to them)."""
    return user.is_authenticated and user.is_staff


def is_superuser(user) -> bool:
    return user.is_authenticated and user.is_superuser


class AccessMixin:
    """A view for the users ``allowed`` accepts; anyone else gets 403."""

    @staticmethod
    def allowed(user) -> bool:
        return is_superuser(user)

    def is_accessible(self) -> bool:
        return self.allowed(current_user)

    def inaccessible_callback(self, name, **kwargs):
        abort(403)


class IndexView(AccessMixin, AdminIndexView):
    allowed = staticmethod(is_staff)

    @expose("/")
    def index(self):
        return self.render("admin/mailer_index.html")


# --- shared model-view behaviour -----------------------------------------------------------

def _when(view, value: datetime, name: str) -> str:
    return format_datetime(value, "short")


TYPE_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _when}


class ServiceModelView(AccessMixin, ModelView):
    """A model view whose create, update and delete call a service.

    A ``ServiceError`` from the service is shown next to its form field (or
    flashed when it names none); the form stays filled in and nothing is saved.
    """

    page_size = 25
    can_view_details = False
    can_export = False
    can_set_page_size = False
    # The bulk "delete selected" action deletes rows directly, around the services.
    action_disallowed_list = ["delete"]
    column_type_formatters = TYPE_FORMATTERS
    # Service error field → form field, where their names differ.
    error_fields: dict[str, str] = {}
    # Flask-Admin's pages made valid and accessible (templates/admin/).
    list_template = "admin/mailer_list.html"
    create_template = "admin/mailer_create.html"
    edit_template = "admin/mailer_edit.html"

    def get_one(self, id):
        """The row with this id (from the URL or a delete form); None for one that names no row."""
        try:
            pk = int(id)
        except (TypeError, ValueError):
            return None
        return super().get_one(str(pk)) if is_row_id(pk) else None

    def save_new(self, form):
        raise NotImplementedError

    def save(self, form, model) -> None:
        raise NotImplementedError

    def remove(self, model) -> None:
        raise NotImplementedError

    def create_model(self, form):
        return self._through_service(form, lambda: self.save_new(form), _l("Could not create it."))

    def update_model(self, form, model):
        return self._through_service(form, lambda: self.save(form, model) or True,
                                     _l("Could not save it."))

    def delete_model(self, model):
        return self._through_service(None, lambda: self.remove(model) or True,
                                     _l("Could not delete it."))

    def _through_service(self, form, change, failure):
        try:
            return change()
        except ServiceError as error:
            db.session.rollback()
            field = self.error_fields.get(error.field, error.field) if error.field else None
            if form is not None and field and getattr(form, field, None) is not None:
                # str(): Flask-Admin's templates show only errors that are plain strings.
                attach_error(form, str(error.message), field)
            else:
                flash(str(error.message), "error")
            return False
        except Exception as error:
            db.session.rollback()
            if not self.handle_view_exception(error):
                log.exception("admin: %s failed in %s", failure, type(self).__name__)
                flash(str(failure) + " " + gettext("An error happened on our side."), "error")
            return False


def _owner_email(view, context, model, name) -> str:
    return model.owner.email if model.owner else ""


# --- posts ---------------------------------------------------------------------------------

class PostView(ServiceModelView):
    allowed = staticmethod(is_staff)

    form = forms.PostForm
    column_list = ("title", "author", "published_at", "view_count", "image")
    column_sortable_list = ("title", "published_at", "view_count")
    column_searchable_list = ("title",)
    column_default_sort = [("published_at", True), ("id", True)]
    column_labels = {
        "title": _l("Title"), "author": _l("Author"), "published_at": _l("Published"),
        "view_count": _l("Views"), "image": _l("Image"),
    }
    column_formatters = {
        "author": lambda v, c, m, n: m.author.full_name if m.author else "",
        "image": lambda v, c, m, n: Markup("&#10003;") if m.image else "",
        "published_at": lambda v, c, m, n: (
            format_datetime(m.published_at, "short") if m.published_at else gettext("draft")),
    }

    def get_create_form(self):
        return forms.NewPostForm

    def _describe(self, form):
        zone = current_user.timezone
        form.image.description = forms.image_description()
        form.published_at.description = gettext(
            "In your time zone (%(zone)s). Leave empty to keep the article a draft; "
            "a future time publishes it then.", zone=zone)
        return form

    def create_form(self, obj=None):
        return self._describe(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._describe(super().edit_form(obj))
        if request.method == "GET" and obj is not None and obj.published_at:
            form.published_at.data = wall_clock.from_utc(obj.published_at, current_user.timezone)
        return form

    def _data(self, form) -> blog_services.PostData:
        remove = getattr(form, "remove_image", None)
        return blog_services.PostData(
            title=form.title.data,
            body=form.body.data,
            published_at=None if form.published_at.data is None else wall_clock.to_utc(
                form.published_at.data, current_user.timezone, "published_at"),
            new_image=form.image.checked,
            remove_image=bool(remove and remove.data),
        )

    def save_new(self, form):
        return blog_services.create_post(current_user._get_current_object(), self._data(form))

    def save(self, form, model) -> None:
        blog_services.update_post(model, self._data(form))

    def remove(self, model) -> None:
        blog_services.delete_post(model)


# --- users ---------------------------------------------------------------------------------

class UserView(ServiceModelView):
    # Accounts are made by registering (or ``flask users``); deleting one would take its
    # mailings along behind cron's back: block it instead.
    can_create = False
    can_delete = False

    form = forms.UserForm
    column_list = ("email", "full_name", "role", "is_superuser", "active", "created_at")
    column_sortable_list = ("email", "full_name", "created_at")
    column_searchable_list = ("email", "full_name")
    column_default_sort = "email"
    column_labels = {
        "email": _l("E-mail"), "full_name": _l("Full name"), "role": _l("Role"),
        "is_superuser": _l("Administrator"), "active": _l("Active"), "created_at": _l("Registered"),
    }
    column_formatters = {"role": lambda v, c, m, n: forms.ROLE_LABELS[m.role]}

    def save(self, form, user: User) -> None:
        accounts.update_user(user, full_name=form.full_name.data, role=Role(form.role.data),
                             superuser=form.is_superuser.data, active=form.active.data,
                             acting=current_user._get_current_object())


# --- clients and messages (read and correct; they are made on the site) ---------------------

class ClientView(ServiceModelView):
    can_create = False

    form = forms.ClientForm
    column_list = ("email", "full_name", "owner", "unsubscribed_at", "created_at")
    column_sortable_list = ("email", "full_name", "created_at")
    column_searchable_list = ("email", "full_name")
    column_default_sort = "email"
    column_labels = {
        "email": _l("E-mail"), "full_name": _l("Full name"), "owner": _l("Owner"),
        "unsubscribed_at": _l("Unsubscribed"), "created_at": _l("Added"),
    }
    column_formatters = {"owner": _owner_email}

    def get_query(self):
        return super().get_query().options(sa.orm.joinedload(Client.owner))

    def save(self, form, model: Client) -> None:
        client_services.update_client(model, client_services.ClientData(
            email=form.email.data, full_name=form.full_name.data or "", comment=form.comment.data or ""))

    def remove(self, model: Client) -> None:
        client_services.delete_client(model)


class MessageView(ServiceModelView):
    can_create = False

    form = forms.MessageForm
    column_list = ("subject", "owner", "updated_at")
    column_sortable_list = ("subject", "updated_at")
    column_searchable_list = ("subject",)
    column_default_sort = ("updated_at", True)
    column_labels = {"subject": _l("Subject"), "owner": _l("Owner"), "updated_at": _l("Changed")}
    column_formatters = {"owner": _owner_email}

    def get_query(self):
        return super().get_query().options(sa.orm.joinedload(Message.owner))

    def save(self, form, model: Message) -> None:
        message_services.update_message(
            model, message_services.MessageData(subject=form.subject.data, body=form.body.data))

    def remove(self, model: Message) -> None:
        message_services.delete_message(model)


# --- mailings ------------------------------------------------------------------------------

class _Loader(QueryAjaxModelLoader):
    """Finds rows for a picker by the given columns and labels them for people."""

    def __init__(self, name, model, fields, label, order_by):
        super().__init__(name, db, model, fields=fields, order_by=order_by,
                         placeholder=_l("Type to search"))
        self._label = label

    def format(self, model):
        return None if model is None else (model.id, self._label(model))

    def get_one(self, pk):
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        if not is_row_id(pk):
            return None
        return super().get_one(pk)


class MailingView(ServiceModelView):
    """Superusers' mailings: made, changed and deleted by the mailing service only.

    Status is not in the form: it changes on the site (pause, resume) and by
    managers (stop). Start and end are wall-clock times in the chosen zone.
    """

    column_list = ("id", "owner", "message", "frequency", "status", "start_at", "end_at", "timezone")
    column_sortable_list = ("id", "status", "start_at", "end_at")
    column_default_sort = ("id", True)
    column_labels = {
        "id": "#", "owner": _l("Owner"), "message": _l("Message"), "frequency": _l("Frequency"),
        "status": _l("Status"), "start_at": _l("Start"), "end_at": _l("End"),
        "timezone": _l("Time zone"),
    }
    column_formatters = {
        "owner": _owner_email,
        "message": lambda v, c, m, n: m.message.subject,
        "frequency": lambda v, c, m, n: FREQUENCY_LABELS[m.frequency],
        "status": lambda v, c, m, n: MAILING_STATUS_LABELS[m.status],
        "start_at": lambda v, c, m, n: _in_zone(m.start_at, m.timezone),
        "end_at": lambda v, c, m, n: _in_zone(m.end_at, m.timezone),
    }
    error_fields = {
        "message_id": "message", "client_ids": "recipients",
        "start_at": "start_local", "end_at": "end_local",
    }
    # The pickers' inputs are text, not hidden (Select2 hides them either way): a label may
    # only name a control that is not hidden (the Nu checker).
    form_widget_args = {name: {"type": "text"} for name in ("owner", "message", "recipients")}

    def __init__(self, *args, **kwargs):
        self.form_ajax_refs = {
            "owner": _Loader("owner", User, ["email", "full_name"],
                             lambda user: named_address(user.full_name, user.email), User.email),
            "message": _Loader("message", Message, ["subject"],
                               lambda m: f"{m.subject} — {m.owner.email}", Message.subject),
            "recipients": _Loader("recipients", Client, ["email", "full_name"],
                                  lambda c: f"{c.email} — {c.owner.email}", Client.email),
        }
        super().__init__(*args, **kwargs)

    def get_query(self):
        return super().get_query().options(
            sa.orm.joinedload(Mailing.owner), sa.orm.joinedload(Mailing.message))

    def get_create_form(self):
        return forms.mailing_form_class(self._form_ajax_refs, with_owner=True)

    def get_edit_form(self):
        return forms.mailing_form_class(self._form_ajax_refs, with_owner=False)

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None:
            form.start_local.data, form.end_local.data = mailing_services.local_window(obj)
            form.all_clients.data = mailing_services.has_every_client(obj)
            ids = mailing_services.client_ids_of(obj)
            form.recipients.data = list(db.session.scalars(
                sa.select(Client).where(Client.id.in_(ids)).order_by(Client.email))) if ids else []
        return form

    def _data(self, form, owner: User) -> mailing_services.MailingData:
        message = form.message.data
        return mailing_services.MailingData(
            message_id=message.id if message else None,
            start_local=form.start_local.data,
            end_local=form.end_local.data,
            frequency=form.frequency.data,
            timezone=form.timezone.data or owner.timezone,
            client_ids=[client.id for client in form.recipients.data or []],
            all_clients=form.all_clients.data,
        )

    def save_new(self, form):
        owner = form.owner.data
        return mailing_services.create_mailing(owner, self._data(form, owner))

    def save(self, form, model: Mailing) -> None:
        mailing_services.update_mailing(model, self._data(form, model.owner))

    def remove(self, model: Mailing) -> None:
        mailing_services.delete_mailing(model)


def _in_zone(moment: datetime, zone: str) -> str:
    """A mailing's time as its own zone's wall clock, the way its owner entered it."""
    return format_datetime(moment.astimezone(ZoneInfo(zone)), "short", rebase=False)
