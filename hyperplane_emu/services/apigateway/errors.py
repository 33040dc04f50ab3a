"""API Gateway's own error responses (gateway responses), byte for byte (pure).

Bodies are exactly what AWS sends, spacing included: the 500 and 504 bodies
have a space after the colon, the 403 ones do not; the resource-policy denial
uses a capital `Message` (captured responses; see docs/apigateway.md for the
sources of each line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hyperplane_emu.services.apigateway.policy import masked_arn


@dataclass(frozen=True)
class GatewayError:
    status: int
    body: bytes
    error_type: str  # x-amzn-ErrorType
    reason: str  # for logs only: why this request got this answer

    def with_reason(self, reason: str) -> GatewayError:
        return GatewayError(self.status, self.body, self.error_type, reason)


FORBIDDEN = GatewayError(403, b'{"message":"Forbidden"}', "ForbiddenException", "")
MISSING_AUTH_TOKEN = GatewayError(
    403, b'{"message":"Missing Authentication Token"}', "MissingAuthenticationTokenException", ""
)
INTERNAL = GatewayError(
    500, b'{"message": "Internal server error"}', "InternalServerErrorException", ""
)
TIMEOUT = GatewayError(
    504, b'{"message": "Endpoint request timed out"}', "InternalServerErrorException", ""
)
BAD_REQUEST = GatewayError(400, b'{"message":"Bad Request"}', "BadRequestException", "")

# HTTP APIs (v2) answer with their own bodies and no x-amzn-ErrorType
# (captured responses; docs/apigateway.md, "HTTP APIs", lists the sources).
HTTP_NOT_FOUND = GatewayError(404, b'{"message":"Not Found"}', "", "")
HTTP_UNAVAILABLE = GatewayError(503, b'{"message":"Service Unavailable"}', "", "")
HTTP_INTERNAL = GatewayError(500, b'{"message":"Internal Server Error"}', "", "")
TOO_LARGE = GatewayError(413, b'{"message":"Request Too Long"}', "RequestTooLargeException", "")


def access_denied(resource_arn: str, explicit: bool) -> GatewayError:
    """The resource-policy denial, naming the request's ARN (account id masked)."""
    text = (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        + masked_arn(resource_arn)
    )
    if explicit:
        text += " with an explicit deny"
    body = json.dumps({"Message": text}, separators=(",", ":")).encode()
    return GatewayError(
        403, body, "AccessDeniedException", "explicit deny" if explicit else "implicit deny"
    )
