"""The one exception type users see: the CLI prints its message on one line and exits 2."""


class IradError(ValueError):
    """A problem with the user's input (data, checkpoint, spec, argument, tensor); the message says what and how to
    fix it. A ``ValueError``, so callers that catch bad arguments as ``ValueError`` keep working."""
