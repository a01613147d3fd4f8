"""The full-MNIST download path, against an HTTP server on 127.0.0.1 serving small IDX files made here:
checksums, atomic writes, mirror fallback, the cache, and clear errors when nothing works."""

import gzip
import hashlib
import socket
import warnings

import numpy as np
import pytest
import torch

from l2rw_viz.data import MnistDownloadError, content_hashes, download_mnist, load_mnist, make_noisy, read_idx
from l2rw_viz.data import mnist as mnist_module

NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


def idx_bytes(a: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic (0, 0, 0x08, ndim), big-endian sizes, raw bytes."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return header + a.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def fake_mnist():
    """Four small gzipped IDX files (20 training, 10 test images) and their MD5s."""
    rng = np.random.default_rng(0)
    arrays = {"train_x": rng.integers(0, 256, size=(20, 28, 28)), "train_y": np.arange(20) % 10,
              "test_x": rng.integers(0, 256, size=(10, 28, 28)), "test_y": np.arange(10)[::-1] % 10}
    blobs = [gzip.compress(idx_bytes(arrays[k]), mtime=0) for k in ("train_x", "train_y", "test_x", "test_y")]
    files = dict(zip(NAMES, blobs))
    md5 = {name: hashlib.md5(blob).hexdigest() for name, blob in files.items()}
    return files, md5, arrays


class _Mirror:
    """Serves ``files`` at ``/mnist/<name>``; ``mode`` per file: "ok", "truncate" (half the bytes, full length
    announced), "missing" (404). Counts requests in ``hits``."""

    def __init__(self, files, serve_http):
        self.files, self.mode, self.hits = dict(files), {}, []
        self.url = serve_http(self.respond).url

    def respond(self, handler, name):
        self.hits.append(name)
        mode = self.mode.get(name, "ok")
        if name not in self.files or mode == "missing":
            handler.send_error(404)
            return
        body = self.files[name]
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)


@pytest.fixture
def server(fake_mnist, serve_http):
    return _Mirror(fake_mnist[0], serve_http)


def _closed_port_url():
    with socket.socket() as sock:  # bind then release: nothing listens on this port afterwards
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_good_download_parses_caches_and_is_not_fetched_twice(server, fake_mnist, tmp_path):
    _, md5, arrays = fake_mnist
    pool = load_mnist("full", cache_dir=tmp_path, progress=False, mirrors=[server.url], checksums=md5)
    assert pool.source == "full" and pool.x.shape == (30, 1, 28, 28) and pool.x.dtype == torch.float32
    assert pool.y.dtype == torch.int64 and pool.is_test.tolist() == [False] * 20 + [True] * 10
    expected_x = np.concatenate([arrays["train_x"], arrays["test_x"]]).astype(np.float32) / 255
    assert np.allclose(pool.x[:, 0].numpy(), expected_x)
    assert pool.y.tolist() == list(arrays["train_y"]) + list(arrays["test_y"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)  # no temporary files left behind
    assert sorted(server.hits) == sorted(NAMES)

    again = load_mnist("full", cache_dir=tmp_path, progress=False, mirrors=[server.url], checksums=md5)
    assert len(server.hits) == 4  # served from the cache
    assert torch.equal(again.x, pool.x)
    # the cache needs no mirror at all
    download_mnist(tmp_path, mirrors=[_closed_port_url()], checksums=md5, progress=False)

    # and the pool feeds the biased data sets, with the test set from the official test split
    d = make_noisy(pool=pool, rate=0.3, n_train=10, n_val_per_class=1, n_test=10, seed=0)
    assert d.info["source"] == "full" and d.n == 10 and int(d.is_noisy.sum()) == 3
    assert set(content_hashes(d.x_test)) == set(content_hashes(pool.x[pool.is_test]))


def test_falls_back_to_the_next_mirror(server, fake_mnist, tmp_path):
    _, md5, _ = fake_mnist
    paths = download_mnist(tmp_path, mirrors=[_closed_port_url(), server.url + "missing/", server.url],
                           checksums=md5, progress=False)
    assert [p.name for p in paths] == NAMES and all(p.is_file() for p in paths)


def test_wrong_checksum_leaves_nothing(server, fake_mnist, tmp_path):
    _, md5, _ = fake_mnist
    bad = dict(md5)
    bad[NAMES[0]] = "0" * 32
    with pytest.raises(MnistDownloadError, match="checksum mismatch") as err:
        load_mnist("full", cache_dir=tmp_path, progress=False, mirrors=[server.url], checksums=bad)
    assert server.url + NAMES[0] in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_leaves_nothing(server, fake_mnist, tmp_path):
    _, md5, _ = fake_mnist
    server.mode[NAMES[2]] = "truncate"
    with pytest.raises(MnistDownloadError, match=NAMES[2]):
        download_mnist(tmp_path, mirrors=[server.url], checksums=md5, progress=False)
    # the two files before it were good and stay; the truncated one left neither a file nor a .part
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES[:2])


def test_server_down_gives_clear_error(fake_mnist, tmp_path):
    _, md5, _ = fake_mnist
    urls = [_closed_port_url(), _closed_port_url()]
    with pytest.raises(MnistDownloadError) as err:
        download_mnist(tmp_path, mirrors=urls, checksums=md5, progress=False, timeout=2)
    message = str(err.value)
    assert all(u + NAMES[0] in message for u in urls) and "subset" in message
    assert list(tmp_path.iterdir()) == []


def test_corrupt_cached_file_is_replaced(server, fake_mnist, tmp_path):
    files, md5, _ = fake_mnist
    (tmp_path / NAMES[1]).write_bytes(b"not mnist")
    download_mnist(tmp_path, mirrors=[server.url], checksums=md5, progress=False)
    assert (tmp_path / NAMES[1]).read_bytes() == files[NAMES[1]]


def test_sha256_checksums_work(server, fake_mnist, tmp_path):
    files, _, _ = fake_mnist
    sha = {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()}
    assert len(download_mnist(tmp_path, mirrors=[server.url], checksums=sha, progress=False)) == 4


def test_auto_uses_cached_full_and_falls_back_to_subset(server, fake_mnist, tmp_path, monkeypatch):
    _, md5, _ = fake_mnist
    monkeypatch.setattr(mnist_module, "_auto_network_failed", False)
    with pytest.warns(UserWarning, match="subset"):
        pool = load_mnist("auto", cache_dir=tmp_path / "empty", progress=False, mirrors=[_closed_port_url()],
                          checksums=md5)
    assert pool.source == "subset" and len(pool) == 5000
    assert mnist_module._auto_network_failed  # later "auto" calls do not wait on the network again

    download_mnist(tmp_path / "cache", mirrors=[server.url], checksums=md5, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cached full set is used silently (a logging line, no warning)
        pool = load_mnist("auto", cache_dir=tmp_path / "cache", progress=False, checksums=md5)
    assert pool.source == "full" and len(pool) == 30


def test_auto_downloads_when_it_can(server, fake_mnist, tmp_path, monkeypatch):
    _, md5, _ = fake_mnist
    monkeypatch.setattr(mnist_module, "_auto_network_failed", False)
    with pytest.warns(UserWarning, match="downloaded full MNIST"):
        pool = load_mnist("auto", cache_dir=tmp_path, progress=False, mirrors=[server.url], checksums=md5)
    assert pool.source == "full"


def test_cache_dir_from_environment(server, fake_mnist, tmp_path, monkeypatch):
    _, md5, _ = fake_mnist
    monkeypatch.setenv("L2RW_DATA_DIR", str(tmp_path / "env"))
    load_mnist("full", progress=False, mirrors=[server.url], checksums=md5)
    assert sorted(p.name for p in (tmp_path / "env").iterdir()) == sorted(NAMES)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))
    (tmp_path / "short.idx").write_bytes(good[:-5])
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + good[2:])
    (tmp_path / "ok.idx.gz").write_bytes(gzip.compress(good))
    with pytest.raises(ValueError, match="bytes"):
        read_idx(tmp_path / "short.idx")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "magic.idx")
    assert read_idx(tmp_path / "ok.idx.gz").shape == (3, 28, 28)


@pytest.mark.parametrize("checksums, name", [({n: "xyz" for n in NAMES}, "checksums"),
                                             ({NAMES[0]: "0" * 32}, "checksums")])
def test_bad_checksum_table_rejected(checksums, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        download_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], checksums=checksums, progress=False)
    with pytest.raises(ValueError, match="mirrors"):
        download_mnist(tmp_path, mirrors=[], progress=False)
