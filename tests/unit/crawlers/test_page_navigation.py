"""How `SeleniumPage.click` tells that a click navigated away: the old document's element is gone.
ChromeDriver reports that either as a stale element or, mid-redirect, as an inspector error;
these stand-ins raise exactly what ChromeDriver raised (no browser can be made to hit the race)."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

from llm_engineering.infrastructure.browser.page import _is_replaced

INSPECTOR_ERROR = (
    'unknown error: unhandled inspector error: {"code":-32000,'
    '"message":"Node with given id does not belong to the document"}'
)


class Element:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def is_enabled(self) -> bool:
        if self.error is not None:
            raise self.error
        return True


def test_a_live_element_means_the_page_has_not_navigated() -> None:
    assert _is_replaced(Element(None)) is False


@pytest.mark.parametrize(
    "error", [StaleElementReferenceException("stale"), WebDriverException(INSPECTOR_ERROR)]
)
def test_stale_or_foreign_node_means_the_page_navigated(error: Exception) -> None:
    assert _is_replaced(Element(error)) is True


def test_other_driver_errors_are_not_taken_for_navigation() -> None:
    with pytest.raises(WebDriverException, match="chrome not reachable"):
        _is_replaced(Element(WebDriverException("chrome not reachable")))
