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
