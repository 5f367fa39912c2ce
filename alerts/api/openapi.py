from drf_spectacular.openapi import AutoSchema

ERROR_BODY = {"type": "object", "additionalProperties": {}, "description": "Field -> list of messages, or detail."}
ERRORS = {
    "400": "Invalid input: field errors",
    "401": "No or bad token (send `Authorization: Token <key>`)",
    "403": "The token's user may not do this",
    "404": "No such object",
}


class SentinelAutoSchema(AutoSchema):
    """Documents the error answers every operation can give, so clients (and schemathesis) know them."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            responses.setdefault(code, {"description": description,
                                        "content": {"application/json": {"schema": ERROR_BODY}}})
        return responses
