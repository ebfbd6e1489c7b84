"""The one base of every error a user can act on: the CLI prints it as one line, no traceback."""


class CxrlocError(Exception):
    """Bad input, bad config or a failed write; the message names the file or key and what to do."""


class UnknownName(CxrlocError, KeyError):
    """A name (backbone, objective, Grad-CAM layer) that is not among the valid ones; the message lists them."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError's own would quote the whole message
