"""Architectures. Importing a family file registers its ``@register_model`` entrypoints."""
from .base import VideoRecognizer  # noqa: F401
