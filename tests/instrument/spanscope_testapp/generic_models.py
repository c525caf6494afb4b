"""Generic relations of the test app, apart from ``models.py``.

Importing ``django.contrib.contenttypes`` needs it in ``INSTALLED_APPS``; keeping
these models here lets projects that do not install it still use ``models.py``.
Import this module after ``django.setup()``.
"""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

from spanscope_testapp.models import Book


class Comment(models.Model):
    """Attached to any object through a generic foreign key."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200, default="")

    class Meta:
        app_label = "inventory"


# The reverse side, ``book.comments``, declared here so that models.py needs no contenttypes.
Book.add_to_class("comments", GenericRelation(Comment))
