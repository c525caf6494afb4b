"""Span-attribute names spanscope writes (the contract the analyzer reads)."""

from __future__ import annotations

from typing import Final

# Code location, semantic conventions >= 1.30.
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
CODE_FUNCTION_NAME: Final = "code.function.name"

# The Django ORM relation whose lazy load ran the query.
ORM_RELATION: Final = "spanscope.orm.relation"
ORM_RELATION_KIND: Final = "spanscope.orm.relation_kind"
ORM_LOOKUP: Final = "spanscope.orm.lookup"

# Which layer a span belongs to: one of the LAYER_* values below.
LAYER: Final = "spanscope.layer"
LAYER_DB: Final = "db"
LAYER_CACHE: Final = "cache"
LAYER_TEMPLATE: Final = "template"
LAYER_HTTP: Final = "http"
# Only with SPANSCOPE_MIDDLEWARE_SPANS=1.
LAYER_MIDDLEWARE: Final = "middleware"

# Keyed hash of a query's parameters: equal hashes on equal SQL mean a duplicate query.
DB_PARAMS_HASH: Final = "spanscope.db.params_hash"
# Prefix of the parameter values themselves, only with SPANSCOPE_CAPTURE_PARAMS=1
# (semantic conventions: ``db.query.parameter.<key>``, the key being the position
# for positional parameters).
DB_QUERY_PARAMETER_PREFIX: Final = "db.query.parameter."

# Django cache calls.
CACHE_BACKEND: Final = "spanscope.cache.backend"
CACHE_OPERATION: Final = "spanscope.cache.operation"
CACHE_HIT: Final = "spanscope.cache.hit"

# Template rendering.
TEMPLATE_NAME: Final = "spanscope.template.name"
TEMPLATE_ENGINE: Final = "spanscope.template.engine"

# Middleware spans (optional): dotted path of the middleware class or function.
MIDDLEWARE_NAME: Final = "spanscope.middleware.name"
