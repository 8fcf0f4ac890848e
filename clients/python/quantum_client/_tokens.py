"""Where the caller's bearer token comes from: a fixed string, a file, or a function.

The token is asked for on every call and every watch resume, so a file rotated in place
(a Kubernetes projected service-account token, a sidecar's refresh) or a function that
refreshes is picked up without a new client; see the README's "Clients" section.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

AUTHORIZATION_HEADER = "authorization"

TokenLike = str | os.PathLike[str] | Callable[[], str]
"""What ``token=`` accepts: the token itself, a file holding it (a ``Path``), or a
function returning the current token."""


class SettingsError(ValueError):
    """The client's connection settings are unusable (a missing file, a conflict)."""


class TokenUnavailable(SettingsError):
    """The token source could not give a token (its file is missing or empty)."""


class TokenSource:
    """Gives the current bearer token; ``renewable`` sources may give a new one later."""

    renewable = False

    def current(self) -> str:
        """The token to send now.

        Raises:
            TokenUnavailable: the source has none to give.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """Where the token comes from, for messages (never the token itself)."""
        raise NotImplementedError


class StaticToken(TokenSource):
    """A token given once (``token="..."``, ``$QUANTUM_TOKEN``)."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        if not token:
            raise TokenUnavailable("the token is empty")
        self._token = token

    def current(self) -> str:
        return self._token

    def describe(self) -> str:
        return "the given token"


class FileToken(TokenSource):
    """A token file, read again on every use (``$QUANTUM_TOKEN_FILE``)."""

    renewable = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def current(self) -> str:
        try:
            token = self.path.read_text().strip()
        except OSError as error:
            raise TokenUnavailable(
                f"cannot read the token file {self.path}: {error.strerror or error}"
            ) from error
        if not token:
            raise TokenUnavailable(f"the token file {self.path} is empty")
        return token

    def describe(self) -> str:
        return f"the token file {self.path}"


class CallableToken(TokenSource):
    """A function returning the current token (it may refresh it)."""

    renewable = True

    def __init__(self, function: Callable[[], str]) -> None:
        self._function = function

    def current(self) -> str:
        token = str(self._function() or "").strip()
        if not token:
            raise TokenUnavailable("the token function returned no token")
        return token

    def describe(self) -> str:
        return f"the token function {getattr(self._function, '__qualname__', self._function)!r}"


def token_source(token: TokenLike | TokenSource) -> TokenSource:
    """The source for what ``token=`` was given (a ``str`` is the token itself)."""
    if isinstance(token, TokenSource):
        return token
    if isinstance(token, str):
        return StaticToken(token)
    if isinstance(token, os.PathLike):
        return FileToken(token)
    if callable(token):
        return CallableToken(token)
    raise SettingsError(f"token must be a str, a path or a function, not {type(token).__name__}")


def bearer(token: str) -> tuple[str, str]:
    """The metadata pair carrying ``token``."""
    return (AUTHORIZATION_HEADER, f"Bearer {token}")
