"""``--auth jwt``: the caller is who its ``authorization: Bearer <JWT>`` says.

docs/security.md, "Authentication": ``exp`` and ``sub`` are required, ``iss`` and ``aud``
are checked when configured, clocks may differ by the leeway. The tenant is the
``tenant_id`` claim (or ``project_id``, as Keystone names it), the roles the ``roles`` list.
The identity headers of ``--auth none`` are ignored here: only the signature decides.
Every refusal is UNAUTHENTICATED with a reason that says what is wrong with the token,
and nothing about any tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from quantum_api.errors import (
    InvalidArgument,
    TokenAudienceMismatch,
    TokenExpired,
    TokenInvalid,
    TokenIssuerMismatch,
    TokenMalformed,
    TokenMissing,
    TokenNotYetValid,
)
from quantum_grpc.auth import Metadata
from quantum_grpc.auth.headers import AUTHORIZATION_HEADER, header, refuse_duplicates
from quantum_grpc.auth.keys import Key
from quantum_grpc.auth.tokens import ROLES_CLAIM, TENANT_CLAIM
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.validation import tenant_field

TENANT_CLAIMS = (TENANT_CLAIM, "project_id")
_SCHEME = "bearer "


def _token_of(metadata: Metadata) -> str:
    value = header(metadata, AUTHORIZATION_HEADER)
    if not value:
        raise TokenMissing(f"set the {AUTHORIZATION_HEADER} metadata to 'Bearer <token>'")
    if not value.lower().startswith(_SCHEME) or not value[len(_SCHEME) :].strip():
        raise TokenMalformed(f"the {AUTHORIZATION_HEADER} metadata must be 'Bearer <token>'")
    return value[len(_SCHEME) :].strip()


def _refusal(error: jwt.InvalidTokenError) -> TokenInvalid:
    """The catalogue's error for what PyJWT found wrong with a correctly signed token."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return TokenExpired("the token has expired: get a new one")
    if isinstance(error, jwt.ImmatureSignatureError):
        return TokenNotYetValid("the token is not valid yet (nbf or iat in the future)")
    if isinstance(error, jwt.InvalidAudienceError):
        return TokenAudienceMismatch("the token is not for this server's audience")
    if isinstance(error, jwt.InvalidIssuerError):
        return TokenIssuerMismatch("the token is not from this server's issuer")
    if isinstance(error, jwt.MissingRequiredClaimError):
        if error.claim == "aud":
            return TokenAudienceMismatch("the token names no audience (aud)")
        if error.claim == "iss":
            return TokenIssuerMismatch("the token names no issuer (iss)")
        return TokenMalformed(f"the token has no {error.claim} claim")
    if isinstance(error, jwt.DecodeError | jwt.InvalidIssuedAtError):
        return TokenMalformed(f"the token is not a well-formed JWT: {error}")
    return TokenInvalid(f"the token is not valid: {error}")


def _tenant(claims: dict[str, Any]) -> str:
    found = {str(claims[name]) for name in TENANT_CLAIMS if name in claims}
    if len(found) != 1:
        raise TokenMalformed(f"the token must name one tenant in {' or '.join(TENANT_CLAIMS)}")
    try:
        return tenant_field(found.pop(), TENANT_CLAIM)
    except InvalidArgument:
        raise TokenMalformed(f"the token's {TENANT_CLAIM} is not a valid tenant id") from None


def _roles(claims: dict[str, Any]) -> frozenset[str]:
    roles = claims.get(ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise TokenMalformed(f"the token's {ROLES_CLAIM} claim must be a list of strings")
    return frozenset(roles)


def _caller(claims: dict[str, Any]) -> Caller:
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise TokenMalformed("the token's sub claim must be a non-empty string")
    roles = _roles(claims)
    return Caller(
        tenant_id=_tenant(claims),
        admin="admin" in roles,
        subject=subject,
        roles=roles,
        expires_at=float(claims["exp"]),
    )


class BearerAuthenticator:
    """Verifies bearer JWTs against the configured keys (several, for rotation)."""

    def __init__(
        self,
        keys: Sequence[Key],
        *,
        issuer: str = "",
        audience: str = "",
        leeway: float = 30.0,
    ) -> None:
        if not keys:
            raise ValueError("--auth jwt needs at least one --jwt-key")
        self._keys = tuple(keys)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    def _candidates(self, token: str) -> list[Key]:
        """The keys that may have signed ``token``: those of its ``alg`` (and ``kid``)."""
        try:
            header_fields = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenMalformed(f"the token is not a well-formed JWT: {exc}") from None
        algorithm = header_fields.get("alg")
        keys = [key for key in self._keys if key.algorithm == algorithm]
        if not keys:  # alg "none" and algorithm confusion end here
            raise TokenInvalid(f"no configured key verifies tokens signed with {algorithm!r}")
        kid = header_fields.get("kid")
        named = [key for key in keys if kid is not None and key.kid == kid]
        return named or keys

    def _claims(self, token: str) -> dict[str, Any]:
        for key in self._candidates(token):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.material,
                    algorithms=[key.algorithm],
                    audience=self._audience or None,
                    issuer=self._issuer or None,
                    leeway=self._leeway,
                    options={"require": ["exp", "sub"], "verify_aud": bool(self._audience)},
                )
            except jwt.InvalidSignatureError:
                continue  # signed by another key (rotation): try the next one
            except jwt.InvalidTokenError as exc:
                raise _refusal(exc) from None
            return claims
        raise TokenInvalid("the token's signature does not verify with any configured key")

    def authenticate(self, metadata: Metadata) -> Caller:
        refuse_duplicates(metadata)
        return _caller(self._claims(_token_of(metadata)))
