"""The API's one error shape, as the tests check it."""


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape: {"error": {"code": str, "message": str, ...}}."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code:
        assert error["code"] == code
    return error
