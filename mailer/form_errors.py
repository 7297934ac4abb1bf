"""Put a service's refusal next to the form field it concerns; refuse text that cannot be stored."""
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError


def attach_error(form, message, field: str | None = None) -> None:
    target = getattr(form, field, None) if field else None
    if target is not None:
        target.errors = [*target.errors, message]
    else:
        form.form_errors.append(message)


NUL_MESSAGE = _l("The text contains a NUL character (U+0000), which cannot be saved. Remove it.")


def no_nul_character(form, field) -> None:
    """Validator of stored text: PostgreSQL cannot keep a NUL character (U+0000) in text."""
    if isinstance(field.data, str) and "\x00" in field.data:
        # Translated now, not lazily: Flask-Admin's templates show only plain-string errors.
        raise ValidationError(str(NUL_MESSAGE))
