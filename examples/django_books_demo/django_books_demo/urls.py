"""URL routes of the books demo (the article's two, plus the fixed twin)."""

from django.urls import path
from inventory.async_views import books_async
from inventory.views import books, books_fixed, home

urlpatterns = [
    path("", home, name="home"),
    path("books/", books, name="books"),
    path("books/fixed/", books_fixed, name="books-fixed"),
    path("books/async/", books_async, name="books-async"),
]
