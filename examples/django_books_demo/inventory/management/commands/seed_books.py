"""`python manage.py seed_books`: the article's data set, reproducible and safe to re-run.

20 authors, 10 publishers and 1,000 books whose author and publisher are drawn
from a seeded random generator, so every run (and every database) holds the
same rows. Running it again on a seeded database changes nothing.
"""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory.models import Author, Book, Publisher

AUTHORS = 20
PUBLISHERS = 10
BOOKS = 1000
SEED = 20240611


class Command(BaseCommand):
    help = f"Create {AUTHORS} authors, {PUBLISHERS} publishers and {BOOKS:,} books (deterministic, idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            counts = (Author.objects.count(), Publisher.objects.count(), Book.objects.count())
            if counts == (AUTHORS, PUBLISHERS, BOOKS):
                self.stdout.write("books already seeded: nothing to do")
                return
            # Any other state (empty, or left by hand-made changes) is replaced as a whole,
            # so the result never depends on what was there before.
            Book.objects.all().delete()
            Author.objects.all().delete()
            Publisher.objects.all().delete()
            self._seed(random.Random(SEED))
        self.stdout.write(
            self.style.SUCCESS(
                f"seeded {AUTHORS} authors, {PUBLISHERS} publishers, {BOOKS:,} books"
            )
        )

    def _seed(self, rng: random.Random) -> None:
        # bulk_create instead of the article's create() per row: same rows, one
        # INSERT per table instead of 1,030 round trips.
        Author.objects.bulk_create(Author(name=f"Author{i}") for i in range(AUTHORS))
        Publisher.objects.bulk_create(Publisher(name=f"Publisher{i}") for i in range(PUBLISHERS))
        # Re-read in primary-key order: the draws below then pick the same rows
        # whatever the backend returns from bulk_create.
        authors = list(Author.objects.order_by("pk"))
        publishers = list(Publisher.objects.order_by("pk"))
        Book.objects.bulk_create(
            Book(title=f"Book{i}", author=rng.choice(authors), publisher=rng.choice(publishers))
            for i in range(BOOKS)
        )
