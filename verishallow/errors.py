"""Exception types.

Every error caused by what a user supplied (a file, a flag, a domain) is an ``InputError``:
the CLI prints its message on one line and exits with code 2.
"""


class VerishallowError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(VerishallowError, ValueError):
    """The user's input (model file, domain, option) is invalid; message says why."""


class UnsupportedModelError(InputError):
    """The model is not a feed-forward ReLU network we can represent exactly."""
