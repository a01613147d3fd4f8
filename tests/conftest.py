"""Fixtures shared by several test files."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from l2rw_viz.device import cpu_threads


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny models on one torch thread: faster for them, and steady when other work shares the CPU."""
    with cpu_threads(torch.device("cpu"), 1):
        yield


class LocalHTTPServer:
    """An HTTP server on 127.0.0.1 (a free port) in a background thread: ``respond(handler, name)`` answers each GET
    of ``<url><name>``; ``url`` is ``http://127.0.0.1:PORT/mnist/``, the shape of an MNIST mirror."""

    def __init__(self, respond):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                respond(self, self.path.rsplit("/", 1)[-1])

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def serve_http():
    """``serve_http(respond)`` starts a :class:`LocalHTTPServer` and returns it; every server is closed after the
    test."""
    servers = []

    def start(respond):
        servers.append(LocalHTTPServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@dataclass
class CourseBuild:
    """The one build of the whole course a test session shares: ``site`` (the folder), ``info`` (its build record),
    ``executed`` (folder of the executed notebooks, outputs included), ``smoke`` (its mode), ``seconds`` (wall)."""

    site: Path
    info: dict
    executed: Path
    smoke: bool
    seconds: float

    def notebook(self, name: str):
        """The executed notebook ``NN_name.ipynb`` (with its outputs)."""
        import nbformat

        return nbformat.read(self.executed / name, as_version=4)


@pytest.fixture(scope="session")
def course_build(tmp_path_factory) -> CourseBuild:
    """Every course notebook executed ONCE per test session, by ``l2rw-viz course build`` itself: the notebook
    tests read the executed notebooks, the site and slide tests the pages and decks it wrote.

    Full mode (the product: what CI checks; notebooks 6 and 7 draw the shipped results, so they are quick) unless
    ``L2RW_SMOKE=1`` is set when pytest starts (short runs, for development). ``L2RW_COURSE_BUILD=DIR`` reuses a
    build of this fixture (``DIR/site``, ``DIR/executed``; pytest's tmp folder keeps the last few)."""
    from l2rw_viz.course import site as course_site
    from l2rw_viz.settings import smoke_mode

    reuse = os.environ.get("L2RW_COURSE_BUILD")
    if reuse:
        out = Path(reuse) / "site"
        info = json.loads((out / course_site.MARKER).read_text())
        return CourseBuild(out, info, Path(reuse) / "executed", info["smoke"], info["seconds"])
    smoke = smoke_mode()
    root = tmp_path_factory.mktemp("course-build")
    out = root / "site"
    start = time.perf_counter()
    # the kernels must not inherit a test's data folder or smoke switch: the build sets L2RW_SMOKE itself
    info = course_site.build_site(out, smoke=smoke, jobs=min(2, os.cpu_count() or 1), progress=False,
                                  executed_dir=root / "executed", command="tests/conftest.py course_build")
    seconds = time.perf_counter() - start
    print(f"\ncourse build for the tests: {'smoke' if smoke else 'full'} mode, {seconds:.0f} s, "
          f"{course_site.site_size(out) / 1e6:.1f} MB, {out}")
    return CourseBuild(out, info, root / "executed", smoke, seconds)
