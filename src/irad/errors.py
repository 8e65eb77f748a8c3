"""The one exception type users see: the CLI prints its message on one line and exits 2."""


class IradError(Exception):
    """A problem with the user's input (data, checkpoint, spec, tensor); the message says what and how to fix it."""
