"""Fixtures shared by several test files."""

from __future__ import annotations

import http.server
import threading

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
