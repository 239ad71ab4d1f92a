"""The web client of a crawl: the `Fetcher` and `Limiter` ports over httpx, protego and tenacity."""
