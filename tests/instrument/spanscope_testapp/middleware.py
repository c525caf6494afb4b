from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def stamp(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """A function-style middleware."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response["X-Stamp"] = "1"
        return response

    return middleware
