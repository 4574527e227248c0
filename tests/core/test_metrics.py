"""The step and external-call histograms' labels (`core.metrics`)."""

from core.metrics import step_label


def test_steps_repeated_per_item_share_a_label():
    assert step_label("copy-clip-12") == "copy-clip-n"
    assert step_label("call-identify-clips-api") == "call-identify-clips-api"
