"""Forms of the admin views, written out rather than scaffolded from the models.

Each view saves through a service, so a form only says what may be entered;
nothing here writes to the model (``populate_obj`` is never called).
"""
from __future__ import annotations

from zoneinfo import available_timezones

from flask import current_app, url_for
from flask_admin.form import BaseForm
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import html_params

from mailer.blog.images import ImageRejected, check_image
from mailer.form_errors import no_nul_character
from mailer.mailings.forms import end_field, frequency_field, start_field
from mailer.models import Role
from mailer.wall_clock import LOCAL_FORMAT

MB = 1024 * 1024
ACCEPTED_TYPES = "image/jpeg,image/png,image/gif,image/webp"

ROLE_LABELS = {
    Role.USER: _l("User"),
    Role.MANAGER: _l("Manager"),
    Role.CONTENT_MANAGER: _l("Content manager"),
}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def image_limit_mb() -> int:
    """The largest image that can arrive: the image limit, or the request limit if lower."""
    return min(current_app.config["MAX_IMAGE_MB"], current_app.config["MAX_CONTENT_LENGTH"] // MB)


class ImageInput:
    """A file chooser for pictures, with the current picture above it."""

    input_type = "file"

    def __call__(self, field: "ImageUploadField", **kwargs) -> Markup:
        kwargs.setdefault("id", field.id)
        html = Markup("<input {}>").format(
            Markup(html_params(type="file", name=field.name, accept=ACCEPTED_TYPES, **kwargs))
        )
        if isinstance(field.data, str) and field.data:
            preview = Markup('<div class="mb-2"><img src="{}" alt="" class="img-thumbnail" '
                             'width="240"></div>').format(url_for("blog.image", filename=field.data))
            html = preview + html
        return html


class ImageUploadField(Field):
    """An uploaded picture, checked by decoding it; ``checked`` holds it once valid.

    Without a new upload the field keeps the post's current file name (for the preview).
    """

    widget = ImageInput()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checked = None

    def process_formdata(self, valuelist) -> None:
        upload = next((v for v in valuelist if isinstance(v, FileStorage) and v.filename), None)
        if upload is not None:
            self.data = upload

    def pre_validate(self, form) -> None:
        self.checked = None
        if not isinstance(self.data, FileStorage):
            return
        try:
            self.checked = check_image(self.data.stream, current_app.config["MAX_IMAGE_MB"] * MB)
        except ImageRejected as rejected:
            raise ValidationError(str(rejected.message)) from None

    def populate_obj(self, obj, name) -> None:
        """The blog service stores the file, never the form."""


class PostForm(BaseForm):
    title = StringField(
        _l("Title"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter a title.")), Length(max=200), no_nul_character],
    )
    body = TextAreaField(
        _l("Text"),
        validators=[DataRequired(message=_l("Write the article's text.")), no_nul_character],
        description=_l("Plain text: a blank line starts a new paragraph."),
        render_kw={"rows": 14},
    )
    image = ImageUploadField(_l("Image"))
    remove_image = BooleanField(_l("Remove the current image"))
    published_at = DateTimeLocalField(_l("Publication time"), format=LOCAL_FORMAT,
                                      validators=[Optional()])


class NewPostForm(PostForm):
    remove_image = None


def image_description() -> str:
    return gettext("JPEG, PNG, GIF or WebP; at most %(size)s MB.", size=image_limit_mb())


class UserForm(BaseForm):
    full_name = StringField(
        _l("Full name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter the name.")), Length(max=200), no_nul_character],
    )
    role = SelectField(_l("Role"),
                       choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()])
    is_superuser = BooleanField(_l("Administrator (full admin access)"))
    active = BooleanField(_l("Active (may sign in; mailings send)"))


class ClientForm(BaseForm):
    email = StringField(_l("E-mail"), filters=[_strip],
                        validators=[DataRequired(message=_l("Enter an e-mail address."))])
    full_name = StringField(_l("Full name"), filters=[_strip])
    comment = TextAreaField(_l("Comment"), validators=[no_nul_character])


class MessageForm(BaseForm):
    subject = StringField(_l("Subject"), filters=[_strip],
                          validators=[DataRequired(message=_l("Enter a subject.")), Length(max=255),
                                      no_nul_character])
    body = TextAreaField(_l("Text"),
                         validators=[DataRequired(message=_l("Write the message's text.")),
                                     no_nul_character],
                         render_kw={"rows": 12})


def _timezone_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("The owner's time zone"))] + [
        SelectChoice(name, name.replace("_", " ")) for name in sorted(available_timezones())
    ]


def mailing_form_class(loaders: dict, with_owner: bool) -> type[BaseForm]:
    """The mailing form; its pickers search users, messages and clients as you type.

    The owner is chosen when the mailing is made and fixed after that.
    """

    class MailingForm(BaseForm):
        owner = AjaxSelectField(loaders["owner"], _l("Owner"))
        message = AjaxSelectField(loaders["message"], _l("Message"), allow_blank=True)
        recipients = AjaxSelectMultipleField(loaders["recipients"], _l("Clients"))
        all_clients = BooleanField(_l("All of the owner's clients"))
        timezone = SelectField(_l("Time zone"), choices=_timezone_choices(), validate_choice=False,
                               description=_l("Start and end are wall-clock times in this zone."))
        start_local = start_field()
        end_local = end_field()
        frequency = frequency_field()

    if with_owner:
        return MailingForm

    class EditMailingForm(MailingForm):
        owner = None

    return EditMailingForm
