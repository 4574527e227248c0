"""The API's one error shape, as the tests check it."""


def assert_error_shape(response, status: int, code: str) -> dict:
    """A JSON answer with `status` whose body is only {"error": {"code": code, "message": ...}}
    (and, for a validation error, "fields"); returns the error."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error
