"""The article's views: `books` has the N+1 loop, `books_fixed` is the same loop after the fix.

The loop is written out twice on purpose, exactly as in the article: the lazy
loads of `book.author` and `book.publisher` in `books` are what spanscope must
point at, line by line.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse

from .models import Book


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello books app")


def books(request: HttpRequest) -> JsonResponse:
    books = Book.objects.all()
    data = []
    for book in books:
        data.append(
            {
                "title": book.title,
                "author": book.author.name,
                "publisher": book.publisher.name,
            }
        )
    return JsonResponse(data, safe=False)


def books_fixed(request: HttpRequest) -> JsonResponse:
    books = Book.objects.select_related("author", "publisher")
    data = []
    for book in books:
        data.append(
            {
                "title": book.title,
                "author": book.author.name,
                "publisher": book.publisher.name,
            }
        )
    return JsonResponse(data, safe=False)
