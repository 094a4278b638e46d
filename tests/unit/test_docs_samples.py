"""Every ```python block of the documentation site (docs/**/*.md) and of README.md is run.

The convention (docs/about-docs.md says it to writers):

- The blocks of one page run in order in one namespace, like a reader typing them into one
  interpreter: a later block may use what an earlier one defined. After the last block, every
  ``test_*`` function the page defined is called (with no arguments), so a page's sample
  tests are run, not only defined.
- A page none of whose runnable blocks names a cluster address runs here, in the unit suite,
  with every network call refused (FakeCluster samples, settings dicts, pure functions).
- A block that connects names the documented address ``127.0.0.1:7000`` (``7000`` to ``7005``,
  in a URL, a ``"host:port"`` or a ``{"host": "127.0.0.1", "port": 7000}`` dict). Its page runs
  in tests/integration/test_docs_samples_real.py against the LocalCluster fixtures, with port
  ``700N`` replaced by the fixture's N-th node; ``rediss://`` blocks run on the TLS cluster with
  the CA path ``/etc/ssl/redis-ca.pem`` replaced by the fixture's CA. Here they are compiled.
- A block that must not run says why in an HTML comment on the line before its fence:
  ``<!-- no-run: reason -->``. The reason is required; the blocks are listed by
  ``python -m tests.unit.test_docs_samples`` and their number is capped (NO_RUN_LIMIT), so a new
  one is a deliberate change to this file.
"""

from __future__ import annotations

import linecache
import re
import socket
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: At most this many blocks may be marked no-run (raise it only with a reason in the block).
NO_RUN_LIMIT = 4

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_NO_RUN = re.compile(r"^\s*<!--\s*no-run\s*(?::\s*(?P<reason>.*?))?\s*-->\s*$")
_CLUSTER_PORT = re.compile(r"\b700([0-5])\b")
#: The documented CA path that TLS samples use; replaced by the TLS fixture's CA.
DOC_CA_PATH = "/etc/ssl/redis-ca.pem"


@dataclass
class Block:
    """One ```python block: where it is, its code (dedented), and why it must not run."""

    path: Path
    line: int                      # 1-based line of the opening fence
    code: str
    no_run: Optional[str] = None   # the reason, when marked <!-- no-run: reason -->
    marked_without_reason: bool = False

    @property
    def where(self) -> str:
        return f"{_rel(self.path)}:{self.line}"

    @property
    def needs_cluster(self) -> bool:
        return "127.0.0.1" in self.code and bool(_CLUSTER_PORT.search(self.code))

    @property
    def needs_tls(self) -> bool:
        return self.needs_cluster and "rediss://127.0.0.1" in self.code


@dataclass
class Page:
    path: Path
    blocks: List[Block] = field(default_factory=list)

    @property
    def runnable(self) -> List[Block]:
        return [b for b in self.blocks if b.no_run is None and not b.marked_without_reason]

    @property
    def needs_cluster(self) -> bool:
        return any(b.needs_cluster for b in self.runnable)

    @property
    def name(self) -> str:
        return _rel(self.path)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def parse_blocks(text: str, path: Path) -> List[Block]:
    """The ```python / ```py blocks of one Markdown text, in order (fences inside lists too)."""
    lines = text.splitlines()
    blocks: List[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        info = m.group("info").strip()
        lang = info.split()[0].lower() if info else ""
        start = i
        body: List[str] = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and close.strip(fence[0]) == "":
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        if lang not in ("python", "py"):
            continue
        block = Block(path, start + 1, "\n".join(body) + "\n")
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = _NO_RUN.match(lines[j]) if j >= 0 else None
        if marker is not None:
            reason = (marker.group("reason") or "").strip()
            if reason:
                block.no_run = reason
            else:
                block.marked_without_reason = True
        blocks.append(block)
    return blocks


def doc_sources() -> List[Path]:
    """The site's Markdown files and README.md."""
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def pages() -> List[Page]:
    """Every source with at least one python block."""
    found = []
    for path in doc_sources():
        blocks = parse_blocks(path.read_text(encoding="utf-8"), path)
        if blocks:
            found.append(Page(path, blocks))
    return found


def substitute(block: Block, ports: List[int], ca_path: Optional[str] = None) -> str:
    """The block's code with port 700N replaced by ``ports[N]`` (and the documented CA path)."""
    code = block.code
    if not block.needs_cluster:
        return code

    def port(m: re.Match[str]) -> str:
        index = int(m.group(1))
        if index >= len(ports):
            raise AssertionError(f"{block.where}: port 700{index} but the cluster has "
                                 f"{len(ports)} nodes")
        return str(ports[index])

    code = _CLUSTER_PORT.sub(port, code)
    if ca_path is not None:
        code = code.replace(DOC_CA_PATH, ca_path)
    return code


def sample_test_names(page: Page) -> List[str]:
    """The ``test_*`` functions the page's runnable blocks define at top level."""
    return [m.group(1) for b in page.runnable
            for m in re.finditer(r"^def (test_\w+)\(", b.code, re.MULTILINE)]


def run_page(page: Page, code_for: Callable[[Block], str]) -> List[str]:
    """Run the page's runnable blocks in one namespace, then its ``test_*`` functions; close
    the clients it left open. Returns the names of the sample tests that ran. A failure is an
    AssertionError naming the block (file:line) with the sample's own traceback."""
    namespace: Dict[str, Any] = {"__name__": "docs_sample"}
    filenames = []
    try:
        for block in page.runnable:
            filename = f"<docs {block.where}>"
            code = code_for(block)
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            filenames.append(filename)
            try:
                exec(compile(code, filename, "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"docs sample {block.where} failed:\n"
                                     f"{traceback.format_exc()}") from exc
        ran = []
        for name, value in list(namespace.items()):
            # defined by the page (not imported): its code (or, under @given, the wrapped
            # test's) comes from one of the page's blocks
            inner = getattr(getattr(value, "hypothesis", None), "inner_test", value)
            if (name.startswith("test_") and callable(value)
                    and getattr(getattr(inner, "__code__", None), "co_filename", None)
                    in filenames):
                try:
                    value()
                except Exception as exc:
                    raise AssertionError(f"docs sample test {name} of {page.name} failed:\n"
                                         f"{traceback.format_exc()}") from exc
                ran.append(name)
        return ran
    finally:
        _close_leftovers(namespace)
        for filename in filenames:
            linecache.cache.pop(filename, None)


def _close_leftovers(namespace: Dict[str, Any]) -> None:
    """Close clients and pools a sample left open (a sample that closes its own is fine)."""
    from clustercore import ClusterConnectionPool, RedisCluster

    for value in namespace.values():
        if isinstance(value, (RedisCluster, ClusterConnectionPool)):
            value.close()


class NetworkRefused(AssertionError):
    """A docs sample tried to reach an address it may not."""


def _loopback(host: Any) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    return text in ("localhost", "::1") or text.startswith("127.")


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``guard(allow_loopback)``: refuse every DNS lookup and connect (or all but loopback)."""

    def install(allow_loopback: bool) -> None:
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex

        def check(host: Any) -> None:
            if not (allow_loopback and _loopback(host)):
                raise NetworkRefused(f"a docs sample tried to reach {host!r}: samples that "
                                     "connect use 127.0.0.1:7000 (see docs/about-docs.md)")

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            check(host)
            return real_getaddrinfo(host, *args, **kwargs)

        def connect(self: socket.socket, address: Any) -> Any:
            if isinstance(address, tuple):
                check(address[0])
            return real_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> Any:
            if isinstance(address, tuple):
                check(address[0])
            return real_connect_ex(self, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)

    return install


ALL_PAGES = pages()
UNIT_PAGES = [p for p in ALL_PAGES if not p.needs_cluster]
CLUSTER_PAGES = [p for p in ALL_PAGES if p.needs_cluster]


def inventory() -> Tuple[List[Block], List[Block], List[Block]]:
    """(blocks run in the unit suite, blocks run on a real cluster, no-run blocks)."""
    unit = [b for p in UNIT_PAGES for b in p.runnable]
    real = [b for p in CLUSTER_PAGES for b in p.runnable]
    no_run = [b for p in ALL_PAGES for b in p.blocks if b not in p.runnable]
    return unit, real, no_run


# --- the extractor itself -----------------------------------------------------------------------

def test_extractor_reads_fences_markers_and_indented_blocks() -> None:
    text = "\n".join([
        "# t", "", "```python", "a = 1", "```", "",
        "<!-- no-run: needs a real DNS name -->", "```python", "connect('db.example')", "```",
        "", "```bash", "echo no", "```",
        "- item", "", "    ```py", "    b = a + 1", "        c = 2", "    ```",
        "<!-- no-run -->", "", "```python title=\"settings.py\"", "X = 1", "```",
        "````python", "s = '```'", "````",
    ])
    blocks = parse_blocks(text, ROOT / "x.md")
    assert [b.line for b in blocks] == [3, 8, 17, 23, 26]
    assert blocks[0].code == "a = 1\n" and blocks[0].no_run is None
    assert blocks[1].no_run == "needs a real DNS name"
    assert blocks[2].code == "b = a + 1\n    c = 2\n"
    assert blocks[3].marked_without_reason and blocks[3].no_run is None
    assert blocks[4].code == "s = '```'\n"


def test_cluster_blocks_are_recognised_and_substituted() -> None:
    block = Block(ROOT / "x.md", 1, 'RedisCluster.from_url("redis://127.0.0.1:7000,127.0.0.1:7002")\n'
                  'x = {"host": "127.0.0.1", "port": 7001}\n')
    other = Block(ROOT / "x.md", 9, 'CACHES = {"LOCATION": "redis://10.0.0.1:7000"}\n')
    assert block.needs_cluster and not block.needs_tls and not other.needs_cluster
    code = substitute(block, [31000, 31001, 31002])
    assert "127.0.0.1:31000,127.0.0.1:31002" in code and '"port": 31001' in code
    assert substitute(other, [31000]) == other.code
    tls = Block(ROOT / "x.md", 1, f'from_url("rediss://127.0.0.1:7000", ssl_ca_certs="{DOC_CA_PATH}")\n')
    assert tls.needs_tls and "/tmp/ca.pem" in substitute(tls, [1], "/tmp/ca.pem")
    with pytest.raises(AssertionError, match="port 7005"):
        substitute(Block(ROOT / "x.md", 1, "127.0.0.1:7005"), [1, 2])


def test_a_failing_sample_names_its_file_and_line() -> None:
    page = Page(ROOT / "x.md", [Block(ROOT / "x.md", 1, "a = 1\n"),
                                Block(ROOT / "x.md", 5, "assert a == 2, 'wrong'\n")])
    with pytest.raises(AssertionError, match=r"x\.md:5 failed(.|\n)*wrong"):
        run_page(page, lambda b: b.code)
    tests = Page(ROOT / "y.md", [Block(ROOT / "y.md", 1, "def test_it():\n    assert False\n")])
    with pytest.raises(AssertionError, match=r"test_it of y\.md failed"):
        run_page(tests, lambda b: b.code)


# --- the site's samples -------------------------------------------------------------------------

def test_there_are_samples_on_both_sides() -> None:
    unit, real, _ = inventory()
    assert len(unit) >= 10 and len(real) >= 10, (len(unit), len(real))
    assert {p.name for p in CLUSTER_PAGES} >= {"README.md", "docs/quickstart.md"}
    assert "docs/testing.md" in {p.name for p in UNIT_PAGES}
    testing = next(p for p in UNIT_PAGES if p.name == "docs/testing.md")
    assert len(sample_test_names(testing)) >= 4   # the page's own tests are run, not just defined


def test_no_run_samples_are_listed_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, no_run = inventory()
    missing = [b.where for b in no_run if b.marked_without_reason]
    assert not missing, f"<!-- no-run --> without a reason at {missing}: say why"
    short = [b.where for b in no_run if b.no_run is not None and len(b.no_run) < 10]
    assert not short, f"no-run reasons too short to explain anything at {short}"
    with capsys.disabled():
        print(f"\n{len(no_run)} docs samples not run:")
        for block in no_run:
            print(f"  {block.where}: {block.no_run}")
    assert len(no_run) <= NO_RUN_LIMIT, (
        f"{len(no_run)} no-run docs samples (limit {NO_RUN_LIMIT}): make the new ones run")


@pytest.mark.parametrize("page", CLUSTER_PAGES, ids=[p.name for p in CLUSTER_PAGES])
def test_cluster_samples_compile(page: Page) -> None:
    """They run in the integration suite; here, at least, they must be valid Python."""
    for block in page.blocks:
        compile(block.code, block.where, "exec")


@pytest.mark.parametrize("page", UNIT_PAGES, ids=[p.name for p in UNIT_PAGES])
def test_docs_samples_run(page: Page, network_guard: Callable[[bool], None]) -> None:
    for block in page.blocks:
        compile(block.code, block.where, "exec")   # no-run blocks must still be Python
    network_guard(False)
    ran = run_page(page, lambda block: block.code)
    assert sorted(ran) == sorted(sample_test_names(page))


def _main() -> Iterator[str]:
    unit, real, no_run = inventory()
    yield f"{len(unit) + len(real) + len(no_run)} python blocks in {len(ALL_PAGES)} files"
    yield f"  run in the unit suite: {len(unit)} ({len(UNIT_PAGES)} files)"
    yield f"  run on a real cluster: {len(real)} ({len(CLUSTER_PAGES)} files)"
    yield f"  not run: {len(no_run)}"
    for block in no_run:
        yield f"    {block.where}: {block.no_run or '(NO REASON)'}"


if __name__ == "__main__":
    sys.stdout.write("\n".join(_main()) + "\n")


# --- the API reference --------------------------------------------------------------------------

def _reference_directives() -> List[str]:
    """The ``::: dotted.name`` directives of docs/reference/*.md."""
    found = []
    for path in sorted((DOCS / "reference").glob("*.md")):
        found += re.findall(r"^:::\s*([\w.]+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return found


def test_api_reference_covers_every_public_name() -> None:
    """Every name of ``clustercore.__all__`` and ``clustercore.testing.__all__``, and every
    module of ``clustercore.contrib`` and ``clustercore.compat.rediscluster``, has its
    directive (a module directive covers that module's names)."""
    import importlib.util
    import pkgutil

    import clustercore
    import clustercore.compat.rediscluster
    import clustercore.contrib
    import clustercore.errors
    import clustercore.testing

    directives = set(_reference_directives())
    missing = []
    for name in clustercore.__all__:
        if name == "__version__":
            continue
        home = "clustercore.errors" if name in clustercore.errors.__all__ else None
        if f"clustercore.{name}" not in directives and home not in directives:
            missing.append(f"clustercore.{name}")
    if "clustercore.testing" not in directives:
        missing += [f"clustercore.testing.{n}" for n in clustercore.testing.__all__
                    if f"clustercore.testing.{n}" not in directives]
    for package in (clustercore.contrib, clustercore.compat.rediscluster):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.ispkg or info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            importlib.util.find_spec(info.name)   # a real module, not a stale name
            if info.name not in directives:
                missing.append(info.name)
    assert not missing, f"not in docs/reference/*.md: {missing}"
