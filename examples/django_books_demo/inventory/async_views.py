"""An async view for ASGI servers: ORM calls from a coroutine, the way Django allows them.

``acount()`` is Django's own async ORM method (it runs the query through
``sync_to_async`` internally); ``first_books`` is sync code handed to
``sync_to_async`` explicitly, with a small N+1 loop inside it. Either way the
queries run on another thread than the request's coroutine, and their spans
must still be children of the request span.
"""

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from .models import Book

SAMPLE_SIZE = 5  # books listed; each one lazily loads its author (one query per book)


def first_books() -> list[dict[str, str]]:
    books = Book.objects.order_by("id")[:SAMPLE_SIZE]
    return [{"title": book.title, "author": book.author.name} for book in books]


async def books_async(request: HttpRequest) -> JsonResponse:
    total = await Book.objects.acount()
    sample = await sync_to_async(first_books)()
    return JsonResponse({"total": total, "sample": sample})
