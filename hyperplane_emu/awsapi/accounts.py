"""Which account a call acts in (docs/aws-api.md, Accounts)."""

from __future__ import annotations

from typing import Any

DEFAULT_ACCOUNT = "123456789012"  # moto's


def account_of(environ: dict[str, Any], access_key: str) -> str:
    """moto's `x-moto-account-id` header, else a 12-digit access key id (LocalStack's
    rule; moto 5.2 maps only its IAM users' keys), else moto's default account."""
    for candidate in (str(environ.get("HTTP_X_MOTO_ACCOUNT_ID", "")), access_key):
        if candidate.isdigit() and len(candidate) == 12:
            return candidate
    return DEFAULT_ACCOUNT
