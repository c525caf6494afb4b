"""Settings of the books demo: a minimal project, configured from the environment.

Only what the demo needs is installed: no admin, auth or sessions, so every
query in a trace is one the views themselves caused.
"""

import os
from pathlib import Path

from django_books_demo.database import database_from_environment

BASE_DIR = Path(__file__).resolve().parent.parent

# A demo key: this project is never deployed anywhere.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-books-demo-only")

# Off by default: with DEBUG=True Django records every query and, on SQLite,
# runs an extra `SELECT QUOTE(?)` after each one, which would double the spans.
DEBUG = os.environ.get("SPANSCOPE_DEMO_DEBUG", "") == "1"

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = ["inventory"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "django_books_demo.urls"
WSGI_APPLICATION = "django_books_demo.wsgi.application"

DATABASES = {"default": database_from_environment(os.environ)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
