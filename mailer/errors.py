"""The one error services raise: input they refuse, said for the user, beside a form field."""


class ServiceError(Exception):
    """``message`` is for the user (often a lazy translation); ``field`` names the form field
    it belongs beside, or None for the whole form."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
