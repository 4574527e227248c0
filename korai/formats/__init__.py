"""Korai's date and time formats (FORMAT_MODULE_PATH), before Django's own for the language."""
