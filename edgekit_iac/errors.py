"""The one error type the CLI prints without a traceback: the user's input was wrong."""


class UserError(Exception):
    """Bad input (config, arguments, files): the message says what, where, and what is accepted."""
