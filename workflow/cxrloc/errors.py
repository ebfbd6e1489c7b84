"""The one base of every error a user can act on: the CLI prints it as one line, no traceback."""


class CxrlocError(Exception):
    """Bad input, bad config or a failed write; the message names the file or key and what to do."""
