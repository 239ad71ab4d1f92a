"""ETL benchmark: the reference crawl re-enacted versus our engine, on the same local links.

The reference is the LLM Engineer's Handbook's crawl loop, replayed faithfully here (it is not
product code): one link at a time; a new Chrome for every browser link, scrolled with a fixed
`time.sleep(5)` until the page height stops changing (at most 5 scrolls); a full `git clone`;
one plain GET per blog page. Ours is the real engine (`bootstrap.crawl_services` +
`crawling.crawl`) with default settings: worker pools, one reused Chrome per browser worker,
scrolls that wait for the page instead of sleeping, shallow clones, robots.txt and a 0.5 s
per-domain delay. Both use the same extractors and write into their own fresh store, so they
must end with the same documents (checked by identity and content hash).

The fixture world lives in this process: a Medium-like HTTPS site whose stories load their body
by JavaScript as the reader scrolls (Chrome reaches it as https://medium.com through host
resolver rules), a plain HTTP blog under several host names, and local git repositories with
history, cloned over file:// URLs. Nothing leaves 127.0.0.1.

    python bench/etl.py                 # 20 Medium stories + 75 blog pages + 5 repositories
    python bench/etl.py --quick         # a smoke test: 2 + 10 + 2
    python bench/etl.py --medium 5 --blog 20 --git 1

One JSON line goes to stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the fixture servers live in tests/
    sys.path.insert(0, str(REPO_ROOT))

if TYPE_CHECKING:
    from llm_engineering.application.ports import DocumentRepository
    from llm_engineering.domain.documents import ContentDocument, UserDocument
    from llm_engineering.settings import Settings

USER_FULL_NAME = "Jane Doe"
#: The reference's scroll loop (BaseSeleniumCrawler.scroll_page): a fixed sleep, at most 5 scrolls.
REFERENCE_SCROLL_SLEEP = 5.0
REFERENCE_SCROLL_LIMIT = 5
#: Scroll rounds that load a story's body (each round fetches one more part of it).
STORY_PARTS = 2
#: A fixture server answers a page (or a story part) after this long, as a real site would.
SERVER_LATENCY = 0.1
BLOG_HOSTS = 5
GIT_COMMITS = 20
GIT_FILES = 30
TARGET_RATIO = 20.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class Mix:
    medium: int = 20
    blog: int = 75
    git: int = 5

    @property
    def links(self) -> int:
        return self.medium + self.blog + self.git


@dataclass
class World:
    """The running fixture sites and the links that point at them."""

    links: list[str]
    #: link -> "medium" | "blog" | "git"
    kinds: dict[str, str]
    #: blog host name -> local port, for the HTTP clients' transport
    blog_hosts: dict[str, int]
    #: CHROME_EXTRA_ARGS that send https://medium.com to the local site
    chrome_args: str


@dataclass
class RunResult:
    seconds: float
    documents: dict[str, int]
    #: collection -> {identity: content hash}
    fingerprints: dict[str, dict[str, str]]
    failures: list[str] = field(default_factory=list)
    seconds_by_kind: dict[str, float] = field(default_factory=dict)


# --- the fixture world ---------------------------------------------------------------------------

_STORY_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8">
<title>{title} | by Jane Doe | Medium</title>
<link rel="canonical" href="https://medium.com{path}">
<meta property="og:title" content="{title}">
<style>body {{ margin: 0; font-family: sans-serif; }} .spacer {{ height: 1400px; }}</style>
</head><body>
<nav><a href="/">Medium</a> <a href="/search">Search</a> <a href="/m/signin">Sign in</a>
<button>Get started</button></nav>
<main><article><div><section>
<h1 data-testid="storyTitle">{title}</h1>
<h2 class="pw-subtitle-paragraph">{subtitle}</h2>
<div class="speechify-ignore">
  <div data-testid="authorName"><a href="/@jane">Jane Doe</a></div>
  <p><button>Follow</button></p><span data-testid="storyReadTime">6 min read</span>
  <div data-testid="headerClapButton"><button aria-label="clap">clap</button><p>1.2K</p></div>
  <button aria-label="Share">Share</button>
</div>
<div id="story-body">
  <p class="pw-post-body-paragraph">{opening}</p>
  <div class="spacer"></div>
</div>
</section></div></article></main>
<footer><a href="/help">Help</a> <a href="/about">About</a> <a href="/terms">Terms</a></footer>
<script>
  // Like Medium, the rest of the story comes from the server once the reader scrolls down.
  let nextPart = 1, loading = false;
  window.addEventListener("scroll", async () => {{
    if (loading || nextPart > {parts}) return;
    if (window.innerHeight + window.scrollY < document.body.scrollHeight - 100) return;
    loading = true;
    const response = await fetch("/_/story/{slug}/part-" + nextPart);
    document.getElementById("story-body").insertAdjacentHTML("beforeend", await response.text());
    nextPart += 1;
    loading = false;
  }});
</script>
</body></html>"""

_STORY_PART = """<h2 class="pw-post-body-heading">Part {part}: {topic} in practice</h2>
<p class="pw-post-body-paragraph">{text}</p>
<pre><span data-code-block-lang="python">{code}</span></pre>
<p class="pw-post-body-paragraph">{text}</p>
<div class="spacer"></div>"""


def _topic(number: int) -> str:
    from tests.support.pages import TOPICS

    return TOPICS[number % len(TOPICS)]


def _sentences(number: int, part: int) -> str:
    topic = _topic(number)
    return " ".join(
        f"Sentence {s} of story {number}, part {part}, looks at {topic} under real load and at what "
        f"changed once we measured it."
        for s in range(5)
    )


def story_slug(number: int) -> str:
    return f"notes-on-{_topic(number).replace(' ', '-')}-{number:03d}a{number * 7919 % 4096:03x}"


def story_page(number: int) -> bytes:
    slug = story_slug(number)
    title = f"Story {number}: what {_topic(number)} taught us"
    return _STORY_PAGE.format(
        title=title,
        subtitle=f"Field notes on {_topic(number)}, number {number}",
        path=f"/@jane/{slug}",
        opening=f"OPENING of story {number}. " + _sentences(number, 0),
        parts=STORY_PARTS,
        slug=slug,
    ).encode()


def story_part(number: int, part: int) -> bytes:
    # Medium writes code lines as <br>-separated spans.
    code = f'def story_{number}_part_{part}() -&gt; str:<br>    return "{_topic(number)}"<br>'
    return _STORY_PART.format(
        part=part, topic=_topic(number), code=code, text=_sentences(number, part)
    ).encode()


def _medium_site(stories: int) -> Any:
    """The tests' MediumSite, extended with generated stories whose body loads on scroll."""
    from urllib.parse import urlsplit

    from tests.integration.crawlers_browser.sites import MediumSite, Response

    pages = {f"/@jane/{story_slug(n)}": n for n in range(stories)}
    parts = {
        f"/_/story/{story_slug(n)}/part-{p}": (n, p)
        for n in range(stories)
        for p in range(1, STORY_PARTS + 1)
    }

    class BenchMediumSite(MediumSite):
        def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
            route = urlsplit(path).path
            if route in pages:
                time.sleep(SERVER_LATENCY)
                return Response(body=story_page(pages[route]))
            if route in parts:
                time.sleep(SERVER_LATENCY)
                return Response(body=story_part(*parts[route]))
            return super().handle(method, path, headers, body)

    return BenchMediumSite()


def _blog_server(pages: int) -> Any:
    from tests.integration.crawlers_http.servers import FixtureHandler, FixtureServer
    from tests.support.pages import slow_article_route

    def robots(handler: FixtureHandler) -> None:
        handler.send_body(200, b"User-agent: *\nAllow: /\n", "text/plain; charset=utf-8")

    routes: dict[str, Callable] = {"/robots.txt": robots}
    routes.update({f"/posts/{n}": slow_article_route(n, SERVER_LATENCY) for n in range(pages)})
    return FixtureServer(routes=routes).start()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Jane Doe", "-c", "user.email=jane@example.com",
         "-c", "commit.gpgsign=false", *args],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def make_repository(path: Path, number: int) -> None:
    """A small project with history: text files, a lock file and a binary (both skipped), 20 commits."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    topic = _topic(number)
    (path / "poetry.lock").write_text("# lock file, not the person's writing\n" * 50)
    (path / "docs").mkdir()
    (path / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0" + bytes(range(256)) * 8)
    package = path / "src" / f"project_{number}"
    package.mkdir(parents=True)
    for commit in range(GIT_COMMITS):
        (path / "README.md").write_text(
            f"# Project {number}\n\nTools for {topic}. Revision {commit}.\n" + f"- change {commit}\n" * commit
        )
        for k in range(GIT_FILES):
            if commit == 0 or k % GIT_COMMITS == commit or (k + commit) % 7 == 0:
                (package / f"module_{k}.py").write_text(
                    f'"""Module {k} of project {number}: {topic}, revision {commit}."""\n\n'
                    + "".join(
                        f"def step_{k}_{i}(value: int) -> int:\n    return value * {i + commit} + {k}\n\n"
                        for i in range(12)
                    )
                )
        if commit % 5 == 0:
            (path / "docs" / f"notes-{commit}.md").write_text(f"Notes {commit} on {topic}.\n" * 20)
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", f"Revision {commit} of project {number}")


@contextmanager
def fixture_world(mix: Mix, root: Path) -> Iterator[World]:
    """Start the sites, create the repositories, and list the links in a shuffled, realistic order."""
    import ssl

    import trustme

    from tests.integration.crawlers_browser.sites import start

    with ExitStack() as stack:
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        trustme.CA().issue_cert("medium.com", "*.medium.com").configure_cert(server_tls)
        medium = start(_medium_site(mix.medium), server_tls)
        stack.callback(medium.server_close)
        stack.callback(medium.shutdown)
        blog = _blog_server(mix.blog)
        stack.callback(blog.stop)

        kinds: dict[str, str] = {}
        for n in range(mix.medium):
            kinds[f"https://medium.com/@jane/{story_slug(n)}"] = "medium"
        hosts = [f"blog-{h + 1}.test" for h in range(min(BLOG_HOSTS, max(mix.blog, 1)))]
        for n in range(mix.blog):
            kinds[f"http://{hosts[n % len(hosts)]}/posts/{n}"] = "blog"
        for n in range(mix.git):
            repo = root / "repos" / f"project-{n}"
            make_repository(repo, n)
            kinds[repo.as_uri()] = "git"
        links = list(kinds)
        random.Random(7).shuffle(links)
        rules = ", ".join((f"MAP medium.com 127.0.0.1:{medium.port}", "MAP * ~NOTFOUND", "EXCLUDE localhost"))
        yield World(
            links=links,
            kinds=kinds,
            blog_hosts=dict.fromkeys(hosts, blog.port),
            chrome_args=f'--host-resolver-rules="{rules}" --ignore-certificate-errors',
        )


def bench_settings(world: World, data_dir: Path) -> Settings:
    """Default settings, but for what the fixtures need: the host rules and a fresh store."""
    from llm_engineering.settings import Settings

    return Settings(
        _env_file=None,
        DATA_DIR=data_dir,
        CHROME_EXTRA_ARGS=world.chrome_args,
        CRAWL_ALLOW_PRIVATE_NETWORKS=True,  # the fixture sites serve on 127.0.0.1
    )


# --- (a) the reference, re-enacted ---------------------------------------------------------------


def handbook_scroll(driver: Any) -> None:
    """BaseSeleniumCrawler.scroll_page: scroll, sleep 5 s, stop when the height stays the same."""
    current_scroll = 0
    last_height = driver.execute_script("return document.body.scrollHeight")
    while True:
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
        time.sleep(REFERENCE_SCROLL_SLEEP)
        new_height = driver.execute_script("return document.body.scrollHeight")
        if new_height == last_height or current_scroll >= REFERENCE_SCROLL_LIMIT:
            break
        last_height = new_height
        current_scroll += 1


class ReferenceCrawl:
    """One link at a time, as the reference's `crawl_links` step did, with our extractors."""

    def __init__(self, settings: Settings, world: World) -> None:
        from llm_engineering.application.crawlers.base import CrawlContext
        from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
        from llm_engineering.application.crawlers.github import GitCrawler
        from llm_engineering.infrastructure.http.politeness import DomainLimiter

        self.settings = settings
        self.world = world
        # The reference had no shared HTTP client, limiter or browser: each crawler made its own.
        context = CrawlContext(settings=settings, http=None, limiter=DomainLimiter(1, 0))  # type: ignore[arg-type]
        self._articles = CustomArticleCrawler(context)
        self._git = GitCrawler(context)

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        kind = self.world.kinds[link]
        if kind == "medium":
            return self.medium(link, user)
        if kind == "blog":
            return self.blog(link, user)
        return self.git(link, user)

    def medium(self, link: str, user: UserDocument) -> list[ContentDocument]:
        """A new Chrome for this one link (the reference built its crawler, and Chrome, per link)."""
        from llm_engineering.application.crawlers.base import article_document
        from llm_engineering.application.crawlers.medium import extract_medium_article
        from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider

        browsers = ChromeBrowserProvider(self.settings)
        try:
            driver = browsers.driver()
            driver.get(link)
            handbook_scroll(driver)
            html, url = driver.page_source, driver.current_url
        finally:
            browsers.close_all()
        content, canonical = extract_medium_article(html, url)
        return [article_document(canonical, content, "medium", user)]

    def blog(self, link: str, user: UserDocument) -> list[ContentDocument]:
        """One GET with a client of its own (the reference's loader opened a session per link)."""
        import httpx

        from llm_engineering.infrastructure.http.fetcher import FetchedPage
        from tests.integration.crawlers_http.servers import HostRewriteTransport

        with httpx.Client(
            transport=HostRewriteTransport(self.world.blog_hosts),
            follow_redirects=True,
            timeout=self.settings.CRAWL_REQUEST_TIMEOUT,
            headers={"User-Agent": self.settings.CRAWL_USER_AGENT},
        ) as client:
            response = client.get(link)
            response.raise_for_status()
        headers = {key.lower(): value for key, value in response.headers.items()}
        page = FetchedPage(str(response.url), response.status_code, headers, response.content)
        return [self._articles.article_from_page(link, page, user)]

    def git(self, link: str, user: UserDocument) -> list[ContentDocument]:
        """A full `git clone` (every commit), then the same file filter as ours."""
        from llm_engineering.application.crawlers.github import repository_document

        workdir = Path(tempfile.mkdtemp(prefix="bench-etl-clone-"))
        try:
            subprocess.run(
                ["git", "clone", "--quiet", "--", link, str(workdir / "repo")],
                check=True,
                stdin=subprocess.DEVNULL,
            )
            files = self._git._read_text_files(workdir / "repo")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return [repository_document(link, files, user)]


def run_reference(world: World, data_dir: Path) -> RunResult:
    from loguru import logger

    from llm_engineering.bootstrap import connect_warehouse

    settings = bench_settings(world, data_dir)
    crawler = ReferenceCrawl(settings, world)
    by_kind = dict.fromkeys(("medium", "blog", "git"), 0.0)
    started = time.perf_counter()
    repository = connect_warehouse(settings)
    try:
        user = repository.get_or_create_user(USER_FULL_NAME)
        for number, link in enumerate(world.links, 1):
            link_started = time.perf_counter()
            for document in crawler.extract(link, user):
                repository.save(document)
            spent = time.perf_counter() - link_started
            by_kind[world.kinds[link]] += spent
            logger.info("reference {}/{} {:.1f}s {}", number, len(world.links), spent, link)
    finally:
        repository.close()
    seconds = time.perf_counter() - started
    return RunResult(
        seconds, *store_summary(settings), seconds_by_kind={k: round(v, 2) for k, v in by_kind.items()}
    )


# --- (b) ours ------------------------------------------------------------------------------------


def run_ours(world: World, data_dir: Path) -> RunResult:
    from llm_engineering.application.crawling import crawl, unique_targets
    from llm_engineering.bootstrap import crawl_services
    from tests.integration.crawlers_http.servers import HostRewriteTransport

    settings = bench_settings(world, data_dir)
    started = time.perf_counter()
    with crawl_services(settings, transport=HostRewriteTransport(world.blog_hosts)) as services:
        user = services.repository.get_or_create_user(USER_FULL_NAME)
        report = crawl(
            unique_targets(world.links),
            user,
            services.dispatcher,
            services.repository,
            services.pools,
            show_progress=False,
        )
    seconds = time.perf_counter() - started
    failures = [f"[{f.kind.value}] {f.message}" for f in report.failed]
    return RunResult(seconds, *store_summary(settings), failures=failures)


# --- comparing the stores ------------------------------------------------------------------------


def store_summary(settings: Settings) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    """Documents per collection, and every content document's identity with its content hash."""
    from llm_engineering.bootstrap import connect_warehouse
    from llm_engineering.domain.documents import CONTENT_DOCUMENT_TYPES, UserDocument

    repository: DocumentRepository = connect_warehouse(settings)
    try:
        counts = {UserDocument.collection: repository.count(UserDocument)}
        fingerprints: dict[str, dict[str, str]] = {}
        for doc_type in CONTENT_DOCUMENT_TYPES:
            counts[doc_type.collection] = repository.count(doc_type)
            fingerprints[doc_type.collection] = {
                doc.identity: doc.content_hash for doc in repository.iter_all(doc_type)
            }
    finally:
        repository.close()
    return counts, fingerprints


def differences(reference: RunResult, ours: RunResult) -> list[str]:
    """What one store holds that the other does not (or holds with other content)."""
    problems: list[str] = []
    for collection in sorted(set(reference.fingerprints) | set(ours.fingerprints)):
        a = reference.fingerprints.get(collection, {})
        b = ours.fingerprints.get(collection, {})
        problems += [f"{collection}: only the reference has {key}" for key in sorted(a.keys() - b.keys())]
        problems += [f"{collection}: only ours has {key}" for key in sorted(b.keys() - a.keys())]
        changed = sorted(key for key in a.keys() & b.keys() if a[key] != b[key])
        problems += [f"{collection}: {key} differs in content" for key in changed]
    if reference.documents != ours.documents:
        problems.append(f"counts differ: {reference.documents} vs {ours.documents}")
    return problems


# --- entry point ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> tuple[Mix, str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: 2 Medium, 10 blog, 2 git links")
    parser.add_argument("--medium", type=int, help="Medium stories (default 20)")
    parser.add_argument("--blog", type=int, help="blog pages (default 75)")
    parser.add_argument("--git", type=int, help="git repositories (default 5)")
    parser.add_argument("--log-level", default="INFO", help="level of the bench's own progress lines")
    args = parser.parse_args(argv)
    base = Mix(medium=2, blog=10, git=2) if args.quick else Mix()
    mix = Mix(
        medium=base.medium if args.medium is None else args.medium,
        blog=base.blog if args.blog is None else args.blog,
        git=base.git if args.git is None else args.git,
    )
    if min(mix.medium, mix.blog, mix.git) < 0 or mix.links == 0:
        parser.error("link counts must be >= 0, and at least one link is needed")
    return mix, args.log_level


def _configure_logging(level: str) -> None:
    """The bench's own lines at `level`; the crawlers' only from WARNING (they log every link)."""
    from loguru import logger

    threshold = logger.level(level.upper()).no
    warning = logger.level("WARNING").no
    logger.remove()
    logger.add(
        sys.stderr,
        level=min(threshold, warning),
        filter=lambda record: record["level"].no >= (threshold if record["name"] == __name__ else warning),
    )


def main(argv: list[str] | None = None) -> int:
    mix, log_level = parse_args(argv)
    _configure_logging(log_level)
    from loguru import logger

    from llm_engineering.settings import Settings

    defaults = Settings(_env_file=None)
    for binary in (defaults.CHROMIUM_BINARY, defaults.CHROMEDRIVER_PATH):
        if not shutil.which(binary):
            logger.error("{} is missing: install chromium and chromium-driver to run this bench", binary)
            return 2
    # The fixture world is local: a proxy from the environment would send Chrome elsewhere.
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)
        os.environ.pop(name.lower(), None)

    with tempfile.TemporaryDirectory(prefix="bench-etl-") as tmp, fixture_world(mix, Path(tmp)) as world:
        logger.info("{} links: {}", len(world.links), mix)
        logger.info("(a) reference: sequential, a Chrome per browser link, 5 s scroll sleeps, full clones")
        reference = run_reference(world, Path(tmp) / "reference")
        logger.info("(a) reference: {:.1f}s {}", reference.seconds, reference.seconds_by_kind)
        logger.info("(b) ours: the crawl engine with default settings")
        ours = run_ours(world, Path(tmp) / "ours")
        logger.info("(b) ours: {:.1f}s", ours.seconds)

    for failure in ours.failures:
        logger.error("ours failed a link: {}", failure)
    problems = differences(reference, ours)
    for problem in problems:
        logger.error(problem)
    links = len(world.links)
    reference_rate = links / reference.seconds
    ours_rate = links / ours.seconds
    ratio = ours_rate / reference_rate
    result = {
        "links": links,
        "mix": {"medium": mix.medium, "blog": mix.blog, "git": mix.git},
        "reference_links_per_s": round(reference_rate, 3),
        "ours_links_per_s": round(ours_rate, 3),
        "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO,
        "reference_seconds": round(reference.seconds, 2),
        "ours_seconds": round(ours.seconds, 2),
        "reference_seconds_by_kind": reference.seconds_by_kind,
        "reference_documents": reference.documents,
        "ours_documents": ours.documents,
        "equal": not problems and not ours.failures,
        "world": {
            "blog_hosts": len(world.blog_hosts),
            "story_scroll_rounds": STORY_PARTS,
            "server_latency_s": SERVER_LATENCY,
            "git_commits": GIT_COMMITS,
        },
        "machine": f"{os.cpu_count()} cores",
    }
    print(json.dumps(result), flush=True)
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
