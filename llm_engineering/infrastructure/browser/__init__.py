"""Headless Chrome behind the `BrowserProvider` and `Page` ports (Selenium stays in this package)."""
