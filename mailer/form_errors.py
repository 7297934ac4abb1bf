"""Put a service's refusal next to the form field it concerns."""


def attach_error(form, message, field: str | None = None) -> None:
    target = getattr(form, field, None) if field else None
    if target is not None:
        target.errors = [*target.errors, message]
    else:
        form.form_errors.append(message)
