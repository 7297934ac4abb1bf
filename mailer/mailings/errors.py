class WorkspaceError(Exception):
    """Input a workspace service refuses; ``message`` is for the user, ``field`` the form field."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
