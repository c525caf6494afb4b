"""URL routes of the books demo (the article's two, plus the fixed twin).

``SPANSCOPE_DEMO_APPLY_FIX=1`` is the demo's "after the fix" deployment: ``books/``
is then served by the ``select_related`` version, so a before and an after dump
of the same URL can be compared (``spanscope compare``), as the article does.
"""

import os

from django.urls import path
from inventory.async_views import books_async
from inventory.views import books, books_fixed, home

urlpatterns = [
    path("", home, name="home"),
    path(
        "books/",
        books_fixed if os.environ.get("SPANSCOPE_DEMO_APPLY_FIX") == "1" else books,
        name="books",
    ),
    path("books/fixed/", books_fixed, name="books-fixed"),
    path("books/async/", books_async, name="books-async"),
]
