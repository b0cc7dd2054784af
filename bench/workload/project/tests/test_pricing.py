import pytest

from stock.pricing import PricingError, format_cents, to_cents


def test_to_cents_rounds_half_to_even():
    assert to_cents("0.125") == 12
    assert to_cents("0.135") == 14


def test_to_cents_rejects_garbage():
    with pytest.raises(PricingError):
        to_cents("twelve")


def test_format_cents_pads_and_signs():
    assert format_cents(-5) == "-0.05 EUR"
