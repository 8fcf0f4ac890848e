"""The identity flags of `serve` and the `token issue` command (docs/security.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from quantum_grpc.auth.keys import KeyFileError, signing_key, verifying_keys
from quantum_grpc.auth.setup import check_exposure
from quantum_grpc.auth.tokens import DEFAULT_SUBJECT, issue, parse_duration
from quantum_grpc.config import DEFAULT_JWT_LEEWAY, AuthMode
from quantum_grpc.startup import StartupError


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_auth_flags(serve: argparse.ArgumentParser) -> None:
    """``--auth``, ``--jwt-*`` and ``--insecure`` on `serve`."""
    auth = serve.add_argument_group("authentication (docs/security.md)")
    auth.add_argument(
        "--auth",
        default=AuthMode.NONE.value,
        choices=[mode.value for mode in AuthMode],
        help="none: callers name their tenant in x-tenant-id (loopback only); "
        "jwt: a signed bearer token names it (default none)",
    )
    auth.add_argument(
        "--jwt-key",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="key tokens are verified with: an HS256 secret, a PEM public key (RS256, "
        "ES256) or a JWKS file (repeatable: keys being rotated)",
    )
    auth.add_argument("--jwt-issuer", default="", metavar="ISS", help="required token iss")
    auth.add_argument("--jwt-audience", default="", metavar="AUD", help="required token aud")
    auth.add_argument(
        "--jwt-leeway",
        type=_duration,
        default=DEFAULT_JWT_LEEWAY,
        metavar="SECONDS",
        help=f"clock skew allowed on exp, nbf, iat (default {DEFAULT_JWT_LEEWAY:g}s)",
    )
    auth.add_argument(
        "--insecure",
        action="store_true",
        help="allow --auth none on a listener other than loopback (logs a warning)",
    )


def auth_options(args: argparse.Namespace, listeners: tuple[str, ...]) -> dict[str, Any]:
    """The Settings fields of the identity flags, checked before anything starts:
    StartupError for an exposed --auth none or an unusable key file."""
    auth = AuthMode(args.auth)
    check_exposure(auth, args.insecure, listeners, warn=False)
    if auth is AuthMode.JWT:
        if not args.jwt_key:
            raise StartupError("--auth jwt needs at least one --jwt-key FILE")
        try:
            for path in args.jwt_key:
                verifying_keys(path)
        except KeyFileError as exc:
            raise StartupError(str(exc)) from None
    return {
        "auth": auth,
        "jwt_keys": tuple(args.jwt_key),
        "jwt_issuer": args.jwt_issuer,
        "jwt_audience": args.jwt_audience,
        "jwt_leeway": args.jwt_leeway,
        "insecure": args.insecure,
    }


def add_token_parser(commands: Any) -> None:
    """``quantum-grpc token issue``."""
    token = commands.add_parser("token", help="mint bearer tokens for --auth jwt")
    actions = token.add_subparsers(dest="action", required=True)
    minting = actions.add_parser(
        "issue",
        help="print a signed token",
        description="Print a JWT for --auth jwt, signed with --key: an HS256 secret file, "
        "or a PEM private key (RSA: RS256, EC P-256: ES256). The server verifies it with "
        "the same secret, or the matching public key.",
    )
    minting.add_argument("--key", type=Path, required=True, metavar="FILE")
    minting.add_argument("--tenant", required=True, help="the tenant_id claim")
    minting.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["reader", "member", "admin", "service"],
        help="a role (repeatable)",
    )
    minting.add_argument("--ttl", type=_duration, default=3600.0, help="e.g. 90s, 15m, 1h, 2d")
    minting.add_argument("--subject", default=DEFAULT_SUBJECT, help="the sub claim")
    minting.add_argument("--issuer", default="", help="the iss claim")
    minting.add_argument("--audience", default="", help="the aud claim")


def run_token(args: argparse.Namespace) -> int:
    """Print the token ``token issue`` asks for; 1 with one line for an unusable key."""
    try:
        key = signing_key(args.key)
    except KeyFileError as exc:
        print(f"quantum-grpc token issue: error: {exc}", file=sys.stderr)
        return 1
    print(
        issue(
            key,
            tenant=args.tenant,
            roles=args.role,
            ttl=args.ttl,
            subject=args.subject,
            issuer=args.issuer,
            audience=args.audience,
        )
    )
    return 0
