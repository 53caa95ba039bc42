"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: a file, a field or a value, with what to do about it.

    The message is a single line naming the problem and the remedy; the CLI prints it as
    ``stgan: error: <message>`` and exits with status 2, without a traceback.
    """
