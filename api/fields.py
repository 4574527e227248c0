"""Serializer fields for hostile input."""

from rest_framework import serializers


class BoundedListField(serializers.ListField):
    """A ListField that refuses a list longer than `max_length` before validating any element.

    DRF's ListField validates every element first and checks the length afterwards, so a
    400,000-element list cost seconds of work and megabytes of error messages. Every list the
    API accepts uses this field, so `max_length` is required."""

    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
