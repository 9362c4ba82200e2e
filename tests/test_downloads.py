"""Downloads against a real HTTP server on 127.0.0.1 (tests/http_server.py): plain URLs with resume, the Hub
through huggingface_hub, verification, conversion, offline mode, resolution order and the CLI commands."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
from pathlib import Path

import pytest
from tests.http_server import LocalServer, git_blob_id
from typer.testing import CliRunner

from deblur_cli.errors import DeblurError, OutputError, WeightsError
from deblur_cli.weights import cache, download, resolve_weights, status
from deblur_cli.weights import registry as registry_module
from deblur_cli.weights.hub import _accepts_tqdm_class
from deblur_cli.weights.registry import load_registry, parse_registry

COMMIT = "c0ffee" + "0" * 34
CONTENT = bytes(range(256)) * 1200  # 307,200 bytes: several read chunks


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    """No user settings leak in; huggingface_hub's once-per-process telemetry request stays off the network."""
    for name in ("DEBLUR_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)


def entry(name="w", *, url=None, hub=None, content=CONTENT, checksum=None, size=True, extra=""):
    """A registry entry for `content` served from `url` or the Hub (`hub` = (repo_id, filename))."""
    checksum = checksum or f"sha256:{hashlib.sha256(content).hexdigest()}"
    if url is not None:
        source = f'source = "url"\nurl = "{url}"\n'
    else:
        source = f'source = "hf"\nrepo_id = "{hub[0]}"\nfilename = "{hub[1]}"\nrevision = "{COMMIT}"\n'
    text = (
        f'[{name}]\ndescription = "test"\narchitecture = "dstnet"\n{source}checksum = "{checksum}"\n'
        + (f"size = {len(content)}\n" if size else "")
        + f'licence = "MIT"\ntraining_data = "none"\n{extra}'
    )
    return parse_registry(text).entry(name)


def test_first_download_is_verified_and_cached(server, tmp_path):
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    seen = []
    path = download(e, tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "weights" / "w" / "w.safetensors"
    assert path.read_bytes() == CONTENT
    assert seen[-1] == (len(CONTENT), len(CONTENT)) and len(seen) > 1
    assert len(server.requests("GET")) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.safetensors", "w.safetensors.verified"]


def test_second_call_makes_no_request(server, tmp_path):
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    first = download(e, tmp_path)
    assert download(e, tmp_path) == first
    assert resolve_weights("dstnet", weights="w", cache_dir=tmp_path, registry=_registry_of(e)).path == first
    assert len(server.requests()) == 1
    assert status(e, tmp_path) == "cached"


def test_git_blob_id_verifies_a_download_without_a_stated_size(server, tmp_path):
    url = server.add_file("w.safetensors", CONTENT)
    e = entry(url=url, checksum=f"git-blob-sha1:{git_blob_id(CONTENT)}", size=False)
    assert download(e, tmp_path).read_bytes() == CONTENT


def test_checksum_mismatch_deletes_the_file(server, tmp_path):
    e = entry(url=server.add_file("w.safetensors", CONTENT), checksum="sha256:" + "0" * 64)
    with pytest.raises(WeightsError, match="w: the downloaded file has sha256 .* expected 0{64}; it was deleted"):
        download(e, tmp_path)
    assert not (tmp_path / "weights" / "w").exists()  # nothing of it written, not even its entry's folder
    assert status(e, tmp_path) == "missing"


def test_a_size_mismatch_stops_before_the_body(server, tmp_path):
    url = server.add_file("w.safetensors", CONTENT + b"x")
    e = entry(url=url)  # size states len(CONTENT)
    with pytest.raises(WeightsError, match=f"^w: {url} offers {len(CONTENT) + 1} bytes, weights.toml expects") as info:
        download(e, tmp_path)
    assert info.value.hint.startswith("the source changed")
    assert not (tmp_path / "weights" / "w").exists()  # nothing of it written, not even its entry's folder


def test_a_dropped_connection_resumes_with_a_range_request(server, tmp_path):
    url = server.add_file("w.safetensors", CONTENT)
    server.cut(url, 100_000)
    path = download(entry(url=url), tmp_path)
    assert path.read_bytes() == CONTENT
    gets = server.requests("GET")
    assert [g.headers.get("range") for g in gets] == [None, "bytes=100000-"]


def test_an_untrusted_certificate_names_ssl_cert_file(tmp_path, monkeypatch):
    """Found in review: a mirror with an organisation's certificate got 'check the network connection'.
    A real HTTPS server on 127.0.0.1, with a self-signed certificate (tests/data/tls): refused, then trusted
    through SSL_CERT_FILE, as OpenSSL reads it."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pem = Path(__file__).parent / "data" / "tls" / "self-signed-127.0.0.1.pem"

    class Files(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(CONTENT)))
            self.end_headers()
            self.wfile.write(CONTENT)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        e = entry(url=f"https://127.0.0.1:{server.server_address[1]}/w.safetensors")
        with pytest.raises(WeightsError, match="CERTIFICATE_VERIFY_FAILED") as info:
            download(e, tmp_path)
        assert info.value.hint.startswith("if the server's certificate is your organisation's")
        monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # as the hint says
        assert download(e, tmp_path).read_bytes() == CONTENT
    finally:
        server.shutdown()


def test_the_hub_librarys_retry_lines_are_held_back(hub, tmp_path, monkeypatch, capfd):
    """Found in review: a Hub that cannot answer printed eleven lines of huggingface_hub's retries before
    deblur's one line. The library itself, against a Hub answering 503 (busy) to every request; only its
    waits between the retries are cut short."""
    import logging
    import types

    import huggingface_hub
    import huggingface_hub.utils._http as library_http

    from deblur_cli.weights import hub as hub_module
    from deblur_cli.weights.registry import HubSource

    monkeypatch.setattr(library_http, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    hub.fail(f"/me/models/resolve/{COMMIT}/w.safetensors", 503)
    level = logging.getLogger("huggingface_hub").level
    with pytest.raises(WeightsError, match="the Hugging Face Hub answered HTTP 503"):
        hub_module.fetch(HubSource("me/models", "w.safetensors", COMMIT), label="w", cache_dir=tmp_path)
    assert "Retrying" not in capfd.readouterr().err and logging.getLogger("huggingface_hub").level == level
    if len(hub.requests()) == 1:  # what the test is about did not happen (huggingface_hub 0.23 does not retry)
        pytest.skip(f"huggingface_hub {huggingface_hub.__version__} does not retry a 503")


@pytest.mark.parametrize(
    "where, code, hint",
    [
        ("hub", 503, "the server is failing or busy, not the file: try again later"),
        ("hub", 429, "the server is failing or busy, not the file: try again later"),
        ("hub", 401, "the Hub refuses access: set HF_TOKEN to a token that may read the repository, and accept"),
        ("hub", 403, "the Hub refuses access: set HF_TOKEN to a token that may read the repository, and accept"),
        ("cdn", 503, "the server is failing or busy, not the file: try again later"),
    ],
)
def test_an_http_error_of_the_hub_is_said_with_its_status(hub, tmp_path, monkeypatch, where, code, hint):
    """Found in review: every status the Hub answered the file's metadata request with (a Hub too busy, a token
    refused) was reported as "cannot reach the Hugging Face Hub ... check the connection", which is the user's
    own network; huggingface_hub keeps the status in the cause of its "not found locally" error. A status from the
    CDN an LFS file is redirected to comes directly, and was a "Hub download ... failed" line with no hint."""
    import types

    import huggingface_hub.utils._http as library_http

    monkeypatch.setattr(library_http, "time", types.SimpleNamespace(sleep=lambda seconds: None))  # its retries
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    lfs_blob = f"/{hashlib.sha256(CONTENT).hexdigest()}"  # the address the Hub redirects to, on the CDN
    hub.fail(f"/me/models/resolve/{COMMIT}/w.safetensors" if where == "hub" else lfs_blob, code)
    said = f"^w: the Hugging Face Hub answered HTTP {code} [A-Z][A-Za-z ]+ for me/models@c0ffee000000/w.safetensors$"
    with pytest.raises(WeightsError, match=said) as info:
        download(entry(hub=("me/models", "w.safetensors")), tmp_path)
    assert info.value.hint.startswith(hint)


def test_a_hub_that_cannot_be_reached_is_said_so(tmp_path, monkeypatch):
    """No answer at all (a closed port): the connection is what to check."""
    import types

    import huggingface_hub.utils._http as library_http

    monkeypatch.setattr(library_http, "time", types.SimpleNamespace(sleep=lambda seconds: None))  # its retries
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{s.getsockname()[1]}")  # nothing listens there
        with pytest.raises(WeightsError, match="^w: cannot reach the Hugging Face Hub for me/models") as info:
            download(entry(hub=("me/models", "w.safetensors")), tmp_path)
    assert info.value.hint.startswith("check the connection (and HF_ENDPOINT, HF_HUB_OFFLINE)")


@pytest.mark.parametrize("lfs", [True, False])
def test_a_hub_download_cut_short_on_every_try_says_what_to_do(hub, tmp_path, monkeypatch, lfs):
    """Found in review: a file whose connection broke on every try of huggingface_hub got its error's type and
    message, and no hint."""
    import huggingface_hub.file_download as library_download

    monkeypatch.setattr(library_download.time, "sleep", lambda seconds: None)  # between its retries
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT, lfs=lfs)
    lfs_blob = f"/{hashlib.sha256(CONTENT).hexdigest()}"
    hub.cut(lfs_blob if lfs else f"/me/models/resolve/{COMMIT}/w.safetensors", *[1000] * 20)
    said = "^w: Hub download of me/models@c0ffee000000/w.safetensors failed: "
    with pytest.raises(WeightsError, match=said) as info:
        download(entry(hub=("me/models", "w.safetensors")), tmp_path)
    assert info.value.hint.startswith("the connection failed on every try: check it (and HF_ENDPOINT), then run the")
    assert hub.requests("GET")  # the body was asked for (huggingface_hub 2.4 tries again itself; 0.23 does not)
    hub.state.cut_after.clear()
    assert download(entry(hub=("me/models", "w.safetensors")), tmp_path).read_bytes() == CONTENT  # as the hint says


def test_a_hub_failure_deblur_does_not_recognise_keeps_its_cause(tmp_path):
    """Said by its type and first line; the original error stays the cause, for DEBLUR_DEBUG's traceback."""
    from deblur_cli.weights import hub as hub_module
    from deblur_cli.weights.registry import HubSource

    said = r"w: Hub download of a/b/c@c0ffee000000/w.safetensors failed: HFValidationError: Repo id must be"
    with pytest.raises(WeightsError, match=said) as info:  # huggingface_hub checks the name before any request
        hub_module.fetch(HubSource("a/b/c", "w.safetensors", COMMIT), label="w", cache_dir=tmp_path)
    assert isinstance(info.value.__cause__, ValueError) and "\n" not in str(info.value)


def test_a_server_that_stops_sending_is_given_up_once_nothing_comes(tmp_path, monkeypatch):
    """Found in review: a server that answered, sent some bytes, then nothing, took three waits of 30 s, the bytes
    were lost (read 64 KiB at a time), and the line named Python's TimeoutError."""
    import deblur_cli.weights.urls as urls

    monkeypatch.setattr(urls, "TIMEOUT_S", 0.3)
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(CONTENT)}\r\n\r\n".encode()
    rest = len(CONTENT) - 1000
    resumed = f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-{len(CONTENT) - 1}/{len(CONTENT)}\r\n"
    # silent far longer than the client waits: a client slowed down must still find it silent, not closed
    raw = RawServer([head + CONTENT[:1000], f"{resumed}Content-Length: {rest}\r\n\r\n".encode()], hold=30)
    try:
        said = r"w: download interrupted \(1000 of 307200 bytes; the server sent nothing for 0.3 s\)"
        with pytest.raises(WeightsError, match=said):
            download(entry(url=f"http://127.0.0.1:{raw.port}/w.safetensors"), tmp_path)
    finally:
        raw.close()
    assert (tmp_path / "weights" / "w" / "w.safetensors.part").read_bytes() == CONTENT[:1000]
    assert raw.connections == 2  # the second try resumed and got nothing at all: not a third


def test_an_interrupted_download_is_resumed_by_the_next_call(server, tmp_path):
    url = server.add_file("w.safetensors", CONTENT)
    server.cut(url, 1000, 2000, 3000)  # every try of the first call drops
    e = entry(url=url)
    with pytest.raises(WeightsError, match="w: download interrupted .*6000 of 307200 bytes") as info:
        download(e, tmp_path)
    assert "resumes" in info.value.hint
    part = tmp_path / "weights" / "w" / "w.safetensors.part"
    assert part.read_bytes() == CONTENT[:6000]
    assert status(e, tmp_path) == "missing"

    assert download(e, tmp_path).read_bytes() == CONTENT
    assert server.requests("GET")[-1].headers["range"] == "bytes=6000-"
    assert not part.exists()


def test_the_resume_and_size_rules_read_an_answers_status_and_headers():
    """_body_plan and _holds_whole_file are pure: header dicts, no server."""
    from deblur_cli.weights.urls import _body_plan, _holds_whole_file, _Plan

    n, limit = len(CONTENT), 10**6
    resumed = {"Content-Range": f"bytes 1000-{n - 1}/{n}", "Content-Length": str(n - 1000)}
    assert _body_plan(206, resumed, 1000, size=n, limit=limit) == _Plan("take", False, 1000, n, n, n)
    # an unstated total: weights.toml's size is the one expected, else the limit caps it
    unstated = {"Content-Range": f"bytes 1000-{n - 1}/*"}
    assert _body_plan(206, unstated, 1000, size=n, limit=limit) == _Plan("take", False, 1000, None, n, n)
    assert _body_plan(206, unstated, 1000, size=None, limit=limit) == _Plan("take", False, 1000, None, None, limit)
    for wrong in ({"Content-Range": f"bytes 0-{n - 1}/{n}"}, {"Content-Range": "bytes */307200"}, {}):
        assert _body_plan(206, wrong, 1000, size=n, limit=limit).verdict == "start over"
    # the range ignored (200) or none asked: all of the file, apart from a .part held
    assert _body_plan(200, {"Content-Length": str(n)}, 1000, size=n, limit=limit) == _Plan("take", True, 0, n, n, n)
    assert _body_plan(200, {"Content-Length": str(n)}, 0, size=n, limit=limit) == _Plan("take", False, 0, n, n, n)
    other = _Plan("other size", False, 0, n - 1000, n - 1000, n - 1000)  # a 206 to no range: read as all of the file
    assert _body_plan(206, resumed, 0, size=n, limit=limit) == other
    assert _body_plan(200, {}, 0, size=None, limit=limit) == _Plan("take", False, 0, None, None, limit)
    assert _body_plan(200, {"Content-Length": "-5"}, 0, size=n, limit=limit) == _Plan("take", False, 0, None, n, n)
    # the size rules
    assert _body_plan(200, {"Content-Length": str(n + 1)}, 0, size=n, limit=limit).verdict == "other size"
    assert _body_plan(206, resumed, 1000, size=n + 1, limit=limit).verdict == "other size"
    assert _body_plan(200, {"Content-Length": str(limit + 1)}, 0, size=None, limit=limit).verdict == "too large"
    assert _body_plan(200, {"Content-Length": str(limit)}, 0, size=None, limit=limit).verdict == "take"
    assert _body_plan(200, {"Content-Length": str(limit + 1)}, 0, size=limit + 1, limit=limit).verdict == "take"
    # a 416 to a request from the .part's end: the .part is complete when the stated length is its own
    assert _holds_whole_file({"Content-Range": f"bytes */{n}"}, n, None)
    assert _holds_whole_file({"Content-Range": f"bytes */{n}"}, n, n)
    assert not _holds_whole_file({"Content-Range": f"bytes */{n}"}, n, n + 1)
    assert not _holds_whole_file({"Content-Range": f"bytes */{n - 1}"}, n, None)
    assert not _holds_whole_file({}, n, None)


def test_resume_follows_redirects_and_finishes_a_complete_partial_file(server, tmp_path):
    server.add_file("w.safetensors", CONTENT)
    server.cut("/files/w.safetensors", 50_000)
    e = entry(url=f"{server.endpoint}/redirect/w.safetensors")
    assert download(e, tmp_path).read_bytes() == CONTENT
    gets = [(g.path, g.headers.get("range")) for g in server.requests("GET")]
    assert gets == [
        ("/redirect/w.safetensors", None),
        ("/files/w.safetensors", None),
        ("/redirect/w.safetensors", "bytes=50000-"),
        ("/files/w.safetensors", "bytes=50000-"),
    ]
    # a whole file left as .part (stopped before its rename): the server answers 416, nothing is fetched again
    e2 = entry("w2", url=server.add_file("w2.safetensors", CONTENT))
    part = tmp_path / "weights" / "w2" / "w2.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT)
    assert download(e2, tmp_path).read_bytes() == CONTENT
    assert server.requests("GET")[-1].headers["range"] == f"bytes={len(CONTENT)}-"


def test_a_permanent_redirect_308_is_followed(server, tmp_path):
    """Python 3.10's urllib refused a 308, which then read as a redirect loop."""
    server.add_file("w.safetensors", CONTENT)
    assert download(entry(url=f"{server.endpoint}/moved/w.safetensors"), tmp_path).read_bytes() == CONTENT


def test_a_corrupt_partial_file_fails_verification_and_is_deleted(server, tmp_path):
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    part = tmp_path / "weights" / "w" / "w.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\xff" * 5000)
    with pytest.raises(WeightsError, match="it was deleted"):
        download(e, tmp_path)
    assert server.requests("GET")[0].headers["range"] == "bytes=5000-"
    assert not part.exists()
    assert download(e, tmp_path).read_bytes() == CONTENT  # the next call starts afresh


def test_a_web_page_instead_of_the_weights_keeps_the_partial_file(server, tmp_path):
    """A login portal or a proxy answers a resumed download (or a first one) with 200 and an HTML page: a
    clear line, and the .part is kept for when the real file can be reached again."""
    url = server.add_file("w.safetensors", CONTENT)
    e = entry(url=url, size=False)
    part = tmp_path / "weights" / "w" / "w.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT[:5000])
    server.state.files["/files/w.safetensors"] = b"<html><body>Please log in</body></html>"
    server.answer_whole(url, "text/html; charset=utf-8")
    with pytest.raises(WeightsError, match="w: the server answered with a web page, not the weights: a login portal or proxy\\?") as info:
        download(e, tmp_path)
    assert "kept" in info.value.hint and part.read_bytes() == CONTENT[:5000]
    assert [g.headers.get("range") for g in server.requests("GET")] == ["bytes=5000-"]
    part.unlink()
    with pytest.raises(WeightsError, match="a web page") as info:
        download(e, tmp_path)
    assert list(part.parent.iterdir()) == []
    assert info.value.hint == "open the URL in a browser to see what it asks for"  # no partial download to keep
    # the address is shown as it was asked for, without the login it held (not even starred)
    host = server.endpoint.removeprefix("http://")
    with pytest.raises(WeightsError, match=f"a web page.*\\(http://{host}/files/w.safetensors\\)$"):
        download(entry(url=url.replace(host, f"me:secret@{host}"), size=False), tmp_path)


def test_a_whole_answer_to_a_resume_replaces_the_partial_file_only_once_verified(server, tmp_path):
    url = server.add_file("w.safetensors", b"other bytes" * 1000)
    server.answer_whole(url)
    e = entry(url=url, size=False)
    part = tmp_path / "weights" / "w" / "w.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT[:5000])
    with pytest.raises(WeightsError, match="the downloaded file has sha256"):
        download(e, tmp_path)
    assert sorted(p.name for p in part.parent.iterdir()) == ["w.safetensors.part"] and part.read_bytes() == CONTENT[:5000]
    sized = entry(url=url)  # the size weights.toml states is checked first
    with pytest.raises(WeightsError, match="/w.safetensors offers 11000 bytes"):
        download(sized, tmp_path)
    assert part.read_bytes() == CONTENT[:5000]
    server.state.files["/files/w.safetensors"] = CONTENT  # a server that ignores ranges, serving the file
    assert download(e, tmp_path).read_bytes() == CONTENT
    assert sorted(p.name for p in part.parent.iterdir()) == ["w.safetensors", "w.safetensors.verified"]


def test_404_is_one_clear_line(server, tmp_path):
    with pytest.raises(WeightsError, match=r"w: http://127\.0\.0\.1:\d+/files/gone answered HTTP 404") as info:
        download(entry(url=f"{server.endpoint}/files/gone"), tmp_path)
    assert "\n" not in str(info.value)
    # weights.toml is deblur's, in the package: the user reports it, and meanwhile uses a file of their own
    assert info.value.hint == ("the pinned file is gone or moved: deblur's weights.toml needs a new address (please "
                               "report it); use a local copy with --weights (run, evaluate, bench, demo, "
                               "info --estimate)")  # fmt: skip


def test_server_down_is_one_clear_line(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/w.safetensors"
    with pytest.raises(WeightsError, match=f"w: cannot download {url}: Connection refused") as info:
        download(entry(url=url), tmp_path)
    assert "\n" not in str(info.value)
    local = "use a local copy with --weights (run, evaluate, bench, demo, info --estimate)"
    assert info.value.hint == f"check the network connection, or {local}"
    assert not (tmp_path / "weights" / "w").exists()  # an empty folder for the entry was left


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with the same bytes, HTTP or not (or, given
    a list, the k-th connection with its k-th item, the last one from there on)."""

    def __init__(self, answer: bytes | list[bytes], hold: float = 0.0):
        import threading

        self.answer = answer
        self.hold = hold  # seconds the connection stays open, silent, after the answer (or until close())
        self._closed = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.connections += 1
            answers = self.answer if isinstance(self.answer, list) else [self.answer]
            answer = answers[min(self.connections, len(answers)) - 1]
            threading.Thread(target=self._answer, args=(conn, answer), daemon=True).start()

    def _answer(self, conn: socket.socket, answer: bytes) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(answer)
            self._closed.wait(self.hold)

    def close(self) -> None:
        self._closed.set()
        self.sock.close()


@pytest.mark.parametrize(
    ("answer", "message", "hint"),
    [
        (b"garbage, not http\r\n\r\n", "cannot download http://.*/w.safetensors: ", "network connection"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", "cannot download .*: got more than 100 headers", ""),
        (b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n", "redirects lead nowhere", "misconfigured"),
        (b"HTTP/1.1 302 Found\r\nLocation: http://[bad/x\r\nContent-Length: 0\r\n\r\n", "cannot download .*IPv6", ""),
        (b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n",
         r"w: http://.*/w.safetensors redirects to ftp://127.0.0.1/x, which is not an http\(s\) address", "misconfigured"),
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "answered HTTP 503 Service Unavailable", "try again later"),
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "answered HTTP 403 Forbidden", "refuses access"),
    ],
    ids=["not-http", "too-many-headers", "redirect-loop", "bad-redirect", "ftp-redirect", "503", "403"],
)
def test_a_server_answering_oddly_is_one_clear_line(tmp_path, answer, message, hint):
    raw = RawServer(answer)
    try:
        with pytest.raises(WeightsError, match=message) as info:
            download(entry(url=f"http://127.0.0.1:{raw.port}/w.safetensors"), tmp_path)
    finally:
        raw.close()
    assert "\n" not in str(info.value) and hint in (info.value.hint or "")


def test_a_file_of_no_stated_size_is_capped_and_the_sizes_are_readable(tmp_path):
    raw = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 3221225472\r\n\r\n")
    try:
        with pytest.raises(WeightsError, match="w: the file is 3.2 GB, more than the 2.1 GB limit") as info:
            download(entry(url=f"http://127.0.0.1:{raw.port}/w.safetensors", size=False), tmp_path)
        assert "size =" in info.value.hint
        # a size weights.toml states is not capped: the download starts (and here the server hangs up)
        stated = entry(url=f"http://127.0.0.1:{raw.port}/w.safetensors", size=False, extra="size = 3221225472\n")
        with pytest.raises(WeightsError, match="download interrupted"):
            download(stated, tmp_path)
    finally:
        raw.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, whose writes fail as on a full disk")
def test_a_full_disk_while_downloading_is_one_clear_line_and_resumable(server, tmp_path, monkeypatch):
    import deblur_cli.weights.urls as urls

    e = entry(url=server.add_file("w.safetensors", CONTENT))
    full = lambda path, append=False: open("/dev/full", "ab" if append else "wb")  # noqa: E731  (writes fail)
    monkeypatch.setattr(urls, "open_own", full)
    with pytest.raises(WeightsError, match=r"w: cannot write .*w.safetensors.part: No space left on device") as info:
        download(e, tmp_path)
    assert "it resumes" in info.value.hint
    monkeypatch.undo()  # space was freed
    assert download(e, tmp_path).read_bytes() == CONTENT


def test_links_planted_in_the_cache_are_never_written_through(server, tmp_path):
    """Found in review: the partial download was appended to, and the stamp's temporary file written, through
    links at their names, so anyone who can write a shared cache could have another user's download write
    into a file of that user's."""
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    folder = cache.download_path(e, tmp_path).parent
    folder.mkdir(parents=True)
    victims = {name: tmp_path / f"victim-{name}" for name in ("w.safetensors.part", "w.safetensors.verified.tmp")}
    for name, victim in victims.items():
        victim.write_bytes(b"a file of the user's")
        (folder / name).symlink_to(victim)
    assert download(e, tmp_path).read_bytes() == CONTENT
    assert all(victim.read_bytes() == b"a file of the user's" for victim in victims.values())
    assert not any(path.is_symlink() for path in folder.iterdir() if path.name.endswith(".verified"))


def test_a_link_planted_at_a_lock_file_is_not_followed(server, tmp_path):
    """Found in review: the lock was opened through a link at its name, creating a file wherever it pointed
    (/etc/nologin, for a run as root over a shared cache)."""
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    lock = cache.lock_path(e, tmp_path)
    lock.parent.mkdir(parents=True)
    lock.symlink_to(tmp_path / "made-through-the-link")
    with pytest.raises(OutputError, match=f"cannot use the weights cache {tmp_path}: {lock} is a symbolic link") as info:
        download(e, tmp_path)
    assert not (tmp_path / "made-through-the-link").exists() and lock.is_symlink()
    assert info.value.hint.startswith("delete the link")
    lock.unlink()
    assert download(e, tmp_path).read_bytes() == CONTENT


@pytest.mark.parametrize("folder", ["locks", "weights/w"])
def test_a_link_planted_at_a_folder_of_deblurs_is_not_followed(server, tmp_path, folder):
    """Found in review: O_NOFOLLOW covered the lock file's own name; a link at locks/ or weights/NAME/ still had
    the lock, or the download, written wherever it pointed."""
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    cache_root, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache_root / folder).parent.mkdir(parents=True, exist_ok=True)
    (cache_root / folder).symlink_to(elsewhere)
    with pytest.raises(OutputError, match=f"{cache_root / folder} is a symbolic link, which deblur does not follow"):
        download(e, cache_root)
    assert list(elsewhere.iterdir()) == [] and server.requests("GET") == []


def test_a_cached_file_is_hashed_before_each_use_and_fetched_again_when_damaged(server, tmp_path):
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    path = download(e, tmp_path)
    damaged = bytearray(path.read_bytes())
    damaged[1000] ^= 1
    path.write_bytes(bytes(damaged))
    assert status(e, tmp_path) == "cached"  # status hashes nothing: same size, same stamp
    heard = []
    assert cache.cached_file(e, tmp_path, warn=heard.append) is None
    assert not path.exists() and status(e, tmp_path) == "missing"
    assert heard == [f"w: the cached file {path} has sha256 {hashlib.sha256(damaged).hexdigest()}, expected "
                     f"{hashlib.sha256(CONTENT).hexdigest()} (damaged since it was verified); it was deleted"]
    path.write_bytes(bytes(damaged))  # damaged again, and this time the stamp is gone too: not cached
    assert cache.cached_file(e, tmp_path) is None
    assert download(e, tmp_path).read_bytes() == CONTENT and len(server.requests("GET")) == 2


def test_a_cached_file_cut_short_is_deleted_with_a_warning(server, tmp_path):
    """Found in review: a cached file whose size changed (a full disk, a copy stopped) was taken for one never
    downloaded, with no word, and left in the cache."""
    e = entry(url=server.add_file("w.safetensors", CONTENT), size=False)
    path = download(e, tmp_path)
    path.write_bytes(CONTENT[:-1])
    heard = []
    assert cache.cached_file(e, tmp_path, warn=heard.append) is None
    assert not path.exists() and not list(path.parent.glob("*.verified"))
    assert heard == [f"w: the cached file {path} has {len(CONTENT) - 1} bytes, {len(CONTENT)} when it was verified "
                     "(damaged since); it was deleted"]  # fmt: skip


def test_a_cache_stamped_by_an_earlier_release(server, tmp_path, official_pth):
    """Stamps from before deblur recorded a conversion's sha256 hold the checksum and size only. A download
    is still hashed against its pin, so it counts; a conversion has nothing to be checked against, so it
    does not (it is fetched and converted again), and no stamp is ever written for bytes not verified."""
    plain = entry(url=server.add_file("w.safetensors", CONTENT))
    converted = entry("c", url=server.add_file("GOPRO.pth", official_pth), content=official_pth,
                      extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    paths = {}
    for e in (plain, converted):
        path = paths[e.name] = download(e, tmp_path)
        stamp = path.with_name(path.name + ".verified")
        stamp.write_text(json.dumps({"checksum": str(e.checksum), "size": path.stat().st_size}))  # the old format
    assert status(plain, tmp_path) == "cached" and cache.cached_file(plain, tmp_path) == paths["w"]

    old_stamp = stamp.read_text()
    assert status(converted, tmp_path) == "missing"
    heard = []
    assert cache.cached_file(converted, tmp_path, warn=heard.append) is None
    assert heard == [f"c: the cached file {paths['c']} was converted by an earlier release of deblur, whose stamp "
                     "cannot vouch for its bytes; it must be fetched and converted again"]
    assert stamp.read_text() == old_stamp  # not stamped anew
    requests = len(server.requests("GET"))
    assert download(converted, tmp_path) == paths["c"] and len(server.requests("GET")) == requests + 1
    assert "sha256" in json.loads(stamp.read_text()) and status(converted, tmp_path) == "cached"


def test_a_read_only_cache(server, tmp_path, official_pth, monkeypatch):
    """A cache nothing can be written to (a read-only mount; here every path a write would take is
    blocked, which holds for root too): one of this release is used as it is, offline; one stamped by
    an earlier release says what to do, rather than failing on the stamp it cannot write."""
    e = entry("c", url=server.add_file("GOPRO.pth", official_pth), content=official_pth,
              extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    path = download(e, tmp_path)
    stamp = path.with_name(path.name + ".verified")
    stamp.with_name(stamp.name + ".tmp").mkdir()
    (tmp_path / "locks").rename(tmp_path / "old-locks")
    (tmp_path / "locks").write_text("")
    registry = _registry_of(e)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_weights("dstnet", cache_dir=tmp_path, registry=registry).path == path

    stamp.write_text(json.dumps({"checksum": str(e.checksum), "size": path.stat().st_size}))  # an earlier release's
    heard = []
    with pytest.raises(WeightsError, match="'c' for model dstnet are not downloaded \\(offline\\)") as info:
        resolve_weights("dstnet", cache_dir=tmp_path, registry=registry, warn=heard.append)
    assert "deblur download-weights c" in info.value.hint and "earlier release" in heard[0]


def test_relative_cache_folders_are_made_absolute_and_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cache.cache_root("rel") == tmp_path / "rel"
    monkeypatch.setenv("DEBLUR_CACHE", "env")
    assert cache.cache_root() == tmp_path / "env"
    monkeypatch.delenv("DEBLUR_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "xdg")
    assert cache.cache_root() == Path.home() / ".cache" / "deblur"


# --- the Hub, through huggingface_hub -------------------------------------------------------------------


@pytest.fixture
def hub(server, monkeypatch):
    """The test server as the Hub endpoint, set after huggingface_hub was imported (as a user's shell would)."""
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    return server


@pytest.mark.parametrize("lfs", [True, False])
def test_hub_first_download_then_no_request(hub, tmp_path, lfs):
    hub.add_hub_file("me/models", COMMIT, "sub/w.safetensors", CONTENT, lfs=lfs)
    e = entry(hub=("me/models", "sub/w.safetensors"))
    seen = []
    path = download(e, tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == CONTENT
    assert path.is_relative_to(tmp_path / "hub")  # an explicit cache folder holds the Hub files too
    if _accepts_tqdm_class():
        assert seen[-1] == (len(CONTENT), len(CONTENT))
    else:  # huggingface_hub before 1.x takes no bar of ours and draws its own
        assert seen == []
    expected = [("main", "HEAD"), ("cdn" if lfs else "main", "GET")]
    assert [(r.server, r.method) for r in hub.requests()] == expected

    assert download(e, tmp_path) == path
    assert resolve_weights("dstnet", weights="w", cache_dir=tmp_path, registry=_registry_of(e)).path == path
    assert len(hub.requests()) == 2
    assert status(e, tmp_path) == "cached"


def test_hub_token_goes_to_the_hub_only(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    hub.add_hub_file("me/private", COMMIT, "w.safetensors", CONTENT)
    download(entry(hub=("me/private", "w.safetensors")), tmp_path)
    head, get = hub.requests()
    assert head.headers["authorization"] == "Bearer hf_test_token"
    assert get.server == "cdn" and "authorization" not in get.headers


def test_hub_cache_follows_hf_hub_cache(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    path = download(entry(hub=("me/models", "w.safetensors")))  # no explicit deblur cache
    assert path.is_relative_to(tmp_path / "hf" / "models--me--models" / "snapshots" / COMMIT)


def test_hub_404_and_checksum_mismatch(hub, tmp_path):
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    with pytest.raises(WeightsError, match=r"me/models@c0ffee000000/nope.safetensors was not found on the Hub"):
        download(entry(hub=("me/models", "nope.safetensors")), tmp_path)
    bad = entry(hub=("me/models", "w.safetensors"), checksum="sha256:" + "0" * 64)
    with pytest.raises(WeightsError, match="weights.toml's pin disagrees with the Hub's intact file"):
        download(bad, tmp_path)


@pytest.mark.parametrize("lfs", [True, False])
def test_a_pin_that_disagrees_with_the_hubs_intact_file_leaves_the_shared_file(hub, tmp_path, lfs):
    """Found in review: a wrong pin deleted the Hub cache's file (shared with other tools) on every run, fetched it
    again and deleted it again. A blob whose bytes hash to its name (the Hub's ETag: an LFS file's sha256, another's
    git blob id) is what the Hub serves at that commit: the pin is at fault."""
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT, lfs=lfs)
    good = entry(hub=("me/models", "w.safetensors"))
    path = download(good, tmp_path)  # another tool's copy, say
    for pin in ("sha256:" + "1" * 64, f"git-blob-sha1:{git_blob_id(b'a pointer file')}"):
        bad = entry("bad", hub=("me/models", "w.safetensors"), checksum=pin)
        for _ in range(2):  # each run: the same line, the file kept, nothing fetched
            with pytest.raises(WeightsError, match="^bad: weights.toml's pin disagrees with the Hub's intact file .*"
                               f"w.safetensors: it has {pin.partition(':')[0]} ") as info:  # fmt: skip
                download(bad, tmp_path)
            assert "stays in the Hub cache: the pin is wrong" in info.value.hint
    assert path.read_bytes() == CONTENT and download(good, tmp_path) == path and len(hub.requests("GET")) == 1
    fresh = tmp_path / "fresh"  # the same found by a first download: kept, and the pin blamed
    with pytest.raises(WeightsError, match="pin disagrees with the Hub's intact file"):
        download(bad, fresh)
    assert status(good, fresh) == "cached"


def test_a_damaged_hub_file_is_deleted_and_fetched_again(hub, tmp_path):
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    e = entry(hub=("me/models", "w.safetensors"))
    path = download(e, tmp_path)
    blob = path.resolve()
    blob.write_bytes(b"x" + CONTENT[1:])
    heard = []
    again = download(e, tmp_path, warn=heard.append)
    assert again.read_bytes() == CONTENT and len(heard) == 1 and "it was deleted" in heard[0]
    assert len(hub.requests("GET")) == 2


def test_a_hub_snapshot_link_to_a_file_outside_its_blobs_loses_only_itself(hub, tmp_path):
    """Found in review: a snapshot entry linked (by hand, or planted in a shared cache) to a file elsewhere,
    which failed the pin, had its target deleted: a file outside every cache."""
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    e = entry(hub=("me/models", "w.safetensors"))
    path = download(e, tmp_path)
    elsewhere = tmp_path / "a file of the user's.safetensors"
    elsewhere.write_bytes(b"not the pinned weights")
    path.unlink()
    path.symlink_to(elsewhere)
    heard = []
    again = download(e, tmp_path, warn=heard.append)
    assert again.read_bytes() == CONTENT and elsewhere.read_bytes() == b"not the pinned weights"
    assert len(heard) == 1 and "(not the pinned file); it was deleted" in heard[0], heard


def test_a_damaged_file_in_a_read_only_cache_is_named_and_not_used(server, tmp_path, monkeypatch):
    """Found in review: where the cache could not be written, the damaged file's deletion failed first, and the
    only line was "...safetensors: Read-only file system", which did not say that the file was damaged."""
    from pathlib import Path

    e = entry(url=server.add_file("w.safetensors", CONTENT))
    path = download(e, tmp_path)
    path.write_bytes(b"x" + CONTENT[1:])

    def read_only(self, missing_ok=False):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)
    heard = []
    assert cache.cached_file(e, tmp_path, warn=heard.append) is None
    assert len(heard) == 1 and "(damaged since it was verified); it is not used, and could not be deleted (Read-only" in heard[0]
    heard.clear()  # download looks at the cache before and after taking the lock: the line was said each time
    with contextlib.suppress(DeblurError):
        download(e, tmp_path, warn=heard.append)
    assert [line for line in heard if "damaged since" in line] == heard[:1]


# --- offline ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["url", "hub"])
def test_offline_uses_the_cache_and_never_the_network(hub, tmp_path, monkeypatch, kind):
    hub.add_hub_file("me/models", COMMIT, "w.safetensors", CONTENT)
    if kind == "url":
        e = entry(url=hub.add_file("w.safetensors", CONTENT))
    else:
        e = entry(hub=("me/models", "w.safetensors"))
    registry = _registry_of(e)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="'w' for model dstnet are not downloaded \\(offline\\)") as info:
        resolve_weights("dstnet", cache_dir=tmp_path, registry=registry)
    assert "deblur download-weights w" in info.value.hint
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE is set"):
        download(e, tmp_path)
    assert hub.requests() == []

    monkeypatch.delenv("HF_HUB_OFFLINE")
    path = download(e, tmp_path)
    requests = len(hub.requests())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_weights("dstnet", cache_dir=tmp_path, registry=registry).path == path
    assert download(e, tmp_path) == path
    assert len(hub.requests()) == requests


# --- conversion of official .pth files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def official_pth():
    """An official-layout DSTNet checkpoint (BasicSR {"params": ...}), small: feat 8, 1 block."""
    torch = pytest.importorskip("torch")
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    buffer = io.BytesIO()
    torch.save({"params": DSTNet(DSTNetConfig(feat=8, blocks=1)).state_dict()}, buffer)
    return buffer.getvalue()


def test_official_pth_is_converted_once_to_safetensors(server, tmp_path, official_pth):
    from deblur_cli.checkpoint import read_metadata
    from deblur_cli.dstnet_weights import load_dstnet

    url = server.add_file("GOPRO.pth", official_pth)
    e = entry(url=url, content=official_pth, checksum=f"git-blob-sha1:{git_blob_id(official_pth)}", size=False,
              extra="config = { feat = 8, blocks = 1 }\n")
    path = download(e, tmp_path)
    assert path == tmp_path / "weights" / "w" / "w.safetensors"
    metadata = read_metadata(path)
    assert metadata["architecture"] == "dstnet"
    assert json.loads(metadata["config"]) == {"feat": 8, "blocks": 1}
    assert metadata["source_checksum"] == f"git-blob-sha1:{git_blob_id(official_pth)}"
    assert not (path.parent / "GOPRO.pth").exists()  # only the safetensors stays
    assert load_dstnet(path).config.feat == 8
    assert download(e, tmp_path) == path and len(server.requests()) == 1


def test_a_conversion_of_a_file_already_there_is_not_called_a_download(server, tmp_path, official_pth, monkeypatch):
    """Found in review: download-weights said 'downloaded and verified' of a .pth it only converted (one an
    earlier conversion failed on, or copied there by hand)."""
    import deblur_cli.cli.weights as cli_weights
    from deblur_cli.cli import app

    url = server.add_file("GOPRO.pth", official_pth)
    e = entry(url=url, content=official_pth, extra="config = { feat = 8, blocks = 1 }\n")
    monkeypatch.setattr(cli_weights, "load_registry", lambda: _registry_of(e))
    (tmp_path / "weights" / "w").mkdir(parents=True)
    (tmp_path / "weights" / "w" / "GOPRO.pth").write_bytes(official_pth)  # there already, verified first
    result = CliRunner().invoke(app, ["download-weights", "w", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "w: verified and converted: nothing to download" in result.stderr and server.requests("GET") == []
    (tmp_path / "weights" / "w" / "w.safetensors").unlink()
    result = CliRunner().invoke(app, ["download-weights", "w", "--cache-dir", str(tmp_path)])
    assert "w: downloaded and verified" in result.stderr and len(server.requests("GET")) == 1


@pytest.mark.parametrize("how", ["--offline", "HF_HUB_OFFLINE"])
def test_a_verified_pth_in_the_cache_is_converted_offline(hub, tmp_path, official_pth, monkeypatch, how):
    """Found in review: offline, a verified .pth in the cache that was not converted yet (a conversion stopped by a
    full disk, an official file put there by hand on an air-gapped machine) was "not downloaded", with a hint to go
    online; converting it is local work on bytes verified against the pin. `deblur models` said "missing" of it."""
    import deblur_cli.cli.weights as cli_weights
    from deblur_cli.cli import app

    pth = entry("w", url=hub.add_file("GOPRO.pth", official_pth), content=official_pth,
                extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    hub.add_hub_file("me/models", COMMIT, "GOPRO.pth", official_pth, lfs=False)
    on_hub = entry("h", hub=("me/models", "GOPRO.pth"), content=official_pth,
                   checksum=f"git-blob-sha1:{git_blob_id(official_pth)}", extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    (tmp_path / "weights" / "w").mkdir(parents=True)
    (tmp_path / "weights" / "w" / "GOPRO.pth").write_bytes(official_pth)  # put there by hand
    fetched = download(on_hub, tmp_path)  # then its conversion lost: a .pth in the Hub cache alone
    fetched.unlink()
    cache.converted_path(on_hub, tmp_path).with_name("h.safetensors.verified").unlink()
    requests = len(hub.requests())
    registry = _registry_of(pth, on_hub)
    monkeypatch.setattr(cli_weights, "load_registry", lambda: registry)
    listed = CliRunner().invoke(app, ["models", "--json", "--cache-dir", str(tmp_path)])
    assert {row["name"]: row["status"] for row in json.loads(listed.stdout)} == {"w": "unconverted", "h": "unconverted"}

    offline = {"offline": True}
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        offline = {}
    for e in (pth, on_hub):
        resolved = resolve_weights("dstnet", weights=e.name, cache_dir=tmp_path, registry=registry, **offline)
        assert resolved.path == cache.converted_path(e, tmp_path) and resolved.path.is_file()
    assert len(hub.requests()) == requests  # no request
    assert not (tmp_path / "weights" / "w" / "GOPRO.pth").exists()  # converted, as a download is
    cache.converted_path(pth, tmp_path).unlink()
    with pytest.raises(WeightsError, match="'w' for model dstnet are not downloaded \\(offline\\)") as info:
        resolve_weights("dstnet", weights="w", cache_dir=tmp_path, registry=registry, **offline)
    assert info.value.hint.startswith("run `deblur download-weights w` when online")


def test_download_weights_converts_offline(hub, tmp_path, official_pth, monkeypatch):
    """With HF_HUB_OFFLINE set, download-weights converts a verified .pth that is here, with no request."""
    import deblur_cli.cli.weights as cli_weights
    from deblur_cli.cli import app

    e = entry(url=hub.add_file("GOPRO.pth", official_pth), content=official_pth,
              extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    monkeypatch.setattr(cli_weights, "load_registry", lambda: _registry_of(e))
    (tmp_path / "weights" / "w").mkdir(parents=True)
    (tmp_path / "weights" / "w" / "GOPRO.pth").write_bytes(official_pth)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(app, ["download-weights", "w", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "w: verified and converted: nothing to download" in result.stderr and hub.requests() == []


def test_a_conversion_stopped_by_a_full_disk_says_the_download_is_kept(server, tmp_path, official_pth, monkeypatch):
    """Found in review: its hint was an output's ('write the output elsewhere')."""
    import errno

    import deblur_cli.checkpoint
    from deblur_cli.files import output_error

    def full(path, data, **kwargs):
        raise output_error(path, OSError(errno.ENOSPC, "No space left on device"))

    url = server.add_file("GOPRO.pth", official_pth)
    e = entry(url=url, content=official_pth, extra="config = { feat = 8, blocks = 1 }\n")
    monkeypatch.setattr(deblur_cli.checkpoint.files, "write_bytes", full)
    with pytest.raises(OutputError) as info:
        download(e, tmp_path)
    assert "--cache-dir" in info.value.hint and "converts the verified download it kept" in info.value.hint
    monkeypatch.undo()
    assert download(e, tmp_path).is_file() and len(server.requests("GET")) == 1  # converted, not fetched again


def test_a_folder_in_the_way_of_a_final_name_is_named_and_gets_the_caches_hint(server, tmp_path, official_pth):
    """Found in review: the error named the verified .part, not the folder in the way of its final name, and a
    folder where the conversion goes got the hint of a full disk."""
    e = entry(url=server.add_file("w.safetensors", CONTENT))
    target = tmp_path / "weights" / "w" / "w.safetensors"
    target.mkdir(parents=True)
    with pytest.raises(OutputError, match=f"^w: cannot use the weights cache .*: {re.escape(str(target))}: Is a dir"):
        download(e, tmp_path)
    url = server.add_file("GOPRO.pth", official_pth)
    pth = entry("p", url=url, content=official_pth, extra="config = { feat = 8, blocks = 1 }\n")
    (tmp_path / "weights" / "p" / "p.safetensors").mkdir(parents=True)
    with pytest.raises(OutputError, match="p.safetensors: Is a directory") as info:
        download(pth, tmp_path)
    assert "free some space" not in info.value.hint and info.value.hint.startswith("choose another folder")
    assert "converts the verified download it kept" in info.value.hint


def test_conversion_refuses_a_config_that_contradicts_weights_toml(server, tmp_path, official_pth):
    url = server.add_file("GOPRO.pth", official_pth)
    e = entry(url=url, content=official_pth, extra="config = { feat = 64, blocks = 15 }\n")
    for _ in range(2):  # the verified download is kept for the next try, not fetched again
        with pytest.raises(WeightsError, match="the checkpoint has feat=8, weights.toml says 64"):
            download(e, tmp_path)
    assert status(e, tmp_path) == "unconverted"  # the verified .pth, which the next try converts
    assert len(server.requests("GET")) == 1 and (tmp_path / "weights" / "w" / "GOPRO.pth").is_file()


def test_a_damaged_conversion_is_made_again_from_a_new_download(server, tmp_path, official_pth):
    url = server.add_file("GOPRO.pth", official_pth)
    e = entry(url=url, content=official_pth, extra="config = { feat = 8, blocks = 1 }\n")
    path = download(e, tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a bit of the last tensor: still a readable file, not the verified one
    path.write_bytes(bytes(data))
    heard = []
    assert download(e, tmp_path, warn=heard.append).read_bytes() != bytes(data)
    assert len(heard) == 1 and "damaged since it was verified" in heard[0]
    assert len(server.requests("GET")) == 2


# --- resolution order ------------------------------------------------------------------------------------


def _registry_of(*entries, defaults=None):
    """A Registry holding `entries`, with model "dstnet" defaulting to them in order."""
    from types import MappingProxyType

    return registry_module.Registry(
        MappingProxyType({e.name: e for e in entries}),
        MappingProxyType(defaults or {"dstnet": tuple(e.name for e in entries)}),
    )


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A package folder holding weights/bundled/b.safetensors, and its pinned entry."""
    root = tmp_path / "package"
    file = root / "weights" / "bundled" / "b.safetensors"
    file.parent.mkdir(parents=True)
    file.write_bytes(b"bundled weights")
    monkeypatch.setattr(cache, "package_root", lambda: root)
    text = (
        '[b]\ndescription = "d"\narchitecture = "dstnet"\nsource = "bundled"\npath = "weights/bundled/b.safetensors"\n'
        f'checksum = "sha256:{hashlib.sha256(b"bundled weights").hexdigest()}"\nlicence = "MIT"\ntraining_data = "t"\n'
    )
    return parse_registry(text).entry("b"), file


def test_resolution_order_weights_then_cache_then_bundled_then_download(server, tmp_path, bundled):
    b, bundled_file = bundled
    w = entry(url=server.add_file("w.safetensors", CONTENT))
    registry = _registry_of(w, b)
    cache_dir = tmp_path / "cache"

    own = tmp_path / "mine.safetensors"
    own.write_bytes(b"x")
    assert resolve_weights("dstnet", weights=own, cache_dir=cache_dir, registry=registry).path == own
    # nothing cached: the bundled file wins over a download
    resolved = resolve_weights("dstnet", cache_dir=cache_dir, registry=registry)
    assert (resolved.path, resolved.entry) == (bundled_file, b)
    assert server.requests() == []
    # once downloaded, the cached entry (listed first) wins
    download(w, cache_dir)
    assert resolve_weights("dstnet", cache_dir=cache_dir, registry=registry).entry is w
    # without a bundled entry, resolution downloads
    only_url = _registry_of(entry("v", url=server.add_file("v.safetensors", CONTENT)))
    assert resolve_weights("dstnet", cache_dir=cache_dir, registry=only_url).path.read_bytes() == CONTENT
    with pytest.raises(WeightsError, match="downloads disabled"):
        resolve_weights("dstnet", cache_dir=tmp_path / "empty", registry=only_url, download=False)


def test_resolved_weights_give_their_sha256_as_recorded_or_hashed(server, tmp_path, bundled, official_pth):
    """The sha256 a run records of its weights (build_restorer's identity): a registry file's as its pin
    or its cache stamp says, the file verified on resolving; a user's own file's hashed."""

    def sha256(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    b, _ = bundled
    assert resolve_weights("dstnet", registry=_registry_of(b)).recorded_sha256 == sha256(b"bundled weights")
    blob = entry(url=server.add_file("w.safetensors", CONTENT), checksum=f"git-blob-sha1:{git_blob_id(CONTENT)}")
    for _ in ("downloaded", "cached"):  # the pin is a git blob id: the stamp has the sha256
        assert resolve_weights("dstnet", cache_dir=tmp_path, registry=_registry_of(blob)).recorded_sha256 == sha256(CONTENT)
    pth = entry("c", url=server.add_file("GOPRO.pth", official_pth), content=official_pth,
                extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    converted = resolve_weights("dstnet", cache_dir=tmp_path, registry=_registry_of(pth))
    assert converted.recorded_sha256 == sha256(converted.path.read_bytes()) != pth.checksum.digest  # not its source's
    own = tmp_path / "mine.safetensors"
    own.write_bytes(b"mine")
    resolved = resolve_weights("dstnet", weights=own, registry=_registry_of(b))
    assert resolved.recorded_sha256 is None and resolved.sha256() == sha256(b"mine")


def test_weights_naming_a_link_to_nothing_say_where_it_points(tmp_path, monkeypatch):
    """Found in review: a link to a missing file (a download folder or a disk that is gone), or round a loop of
    links, was "no such file", though `ls` shows its name."""
    monkeypatch.chdir(tmp_path)
    Path("links").mkdir()
    Path("links/dangling.safetensors").symlink_to("nowhere.safetensors")  # relative to the link's folder
    Path("links/loop1.safetensors").symlink_to("loop2.safetensors")
    Path("links/loop2.safetensors").symlink_to("loop1.safetensors")
    said = {
        "dangling": "a link to links/nowhere.safetensors, which does not exist",
        "loop1": "a link to links/loop2.safetensors, in a loop of links that leads to no file",
    }
    for name, problem in said.items():
        with pytest.raises(WeightsError, match=f"^--weights links/{name}.safetensors: {problem}$") as info:
            resolve_weights("dstnet", weights=f"links/{name}.safetensors", registry=load_registry())
        assert info.value.hint == "check the link, or give another file"


def test_weights_by_entry_name_must_fit_the_model(tmp_path, bundled):
    b, bundled_file = bundled
    registry = _registry_of(b, defaults={"dstnet": ("b",), "wtsa": ("b",)})
    assert resolve_weights("dstnet", weights="b", registry=registry).path == bundled_file
    with pytest.raises(WeightsError, match="no such file, and no weights of that name"):
        resolve_weights("dstnet", weights=tmp_path / "nothing.safetensors", registry=registry)
    with pytest.raises(WeightsError, match="not a file"):
        resolve_weights("dstnet", weights=tmp_path, registry=registry)
    with pytest.raises(WeightsError) as caught:  # a typo of an entry's name
        resolve_weights("dstnet", weights="dstnet-gopr", registry=load_registry())
    assert caught.value.hint.startswith("did you mean 'dstnet-gopro'? give a weights file, or a name from")


def test_bundled_files_are_checked(bundled):
    b, bundled_file = bundled
    assert cache.bundled_file(b) == bundled_file and status(b) == "bundled"
    bundled_file.write_bytes(b"damaged weights")
    with pytest.raises(WeightsError, match="bundled weights 'b': b.safetensors has sha256") as info:
        resolve_weights("dstnet", registry=_registry_of(b))
    assert info.value.hint == "reinstall deblur"
    bundled_file.unlink()
    assert status(b) == "missing"
    with pytest.raises(WeightsError, match=r"no usable weights for model dstnet .*\(bundled b: missing\)"):
        resolve_weights("dstnet", registry=_registry_of(b))


def test_unpinned_bundled_files_are_never_used(bundled):
    unpinned = parse_registry(
        '[b]\ndescription = "d"\narchitecture = "dstnet"\nsource = "bundled"\npath = "weights/bundled/b.safetensors"\n'
        'licence = "MIT"\ntraining_data = "t"\n'
    ).entry("b")
    assert status(unpinned) == "unpinned"
    with pytest.raises(WeightsError, match="b: unpinned"):
        resolve_weights("dstnet", registry=_registry_of(unpinned))


def test_an_entry_listed_before_it_has_weights_is_unpublished_not_missing(tmp_path):
    """weights.toml's `wtsa`: a bundled entry with no file and no checksum. It was listed as "missing",
    as if this installation had lost it; `deblur models` says what to do under the table."""
    listed = parse_registry(
        '[w]\ndescription = "d"\narchitecture = "wtsa"\nsource = "bundled"\npath = "weights/bundled/none.safetensors"\n'
        'licence = "MIT"\ntraining_data = "none yet"\n'
    ).entry("w")
    assert status(listed) == "unpublished"
    with pytest.raises(WeightsError, match="model wtsa has no weights yet: none are bundled or published") as info:
        resolve_weights("wtsa", registry=_registry_of(listed, defaults={"wtsa": ("w",)}))
    assert "--weights" in info.value.hint  # it said "no usable weights ... in this installation (w: missing)"
    from deblur_cli.cli import app

    shown = CliRunner().invoke(app, ["models", "--cache-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    rows = {line.split()[1]: line for line in shown.stdout.splitlines() if line.startswith("│")}
    assert "unpublished" in rows["wtsa"] and "bundled" in rows["dstnet-s"]
    assert "bundled" not in rows["wtsa"] and "unknown" not in rows["wtsa"]  # found in review: its source said bundled
    notes = " ".join(shown.stdout.split())
    assert "unpublished: no weights exist yet; run, evaluate and bench take your own with --weights" in notes
    assert "missing: not downloaded yet (`deblur download-weights NAME` fetches it), or a bundled file" in notes


def test_a_mismatch_without_a_stated_size_says_how_much_came(server, tmp_path):
    """Found in review: a server that closes early without a length delivers what looks like a whole file; the
    hint blamed only the source."""
    raw = RawServer(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + CONTENT[:1000])
    try:
        with pytest.raises(WeightsError, match="the downloaded file has sha256") as info:
            download(entry(url=f"http://127.0.0.1:{raw.port}/w.safetensors", size=False), tmp_path)
    finally:
        raw.close()
    assert info.value.hint.startswith("1.0 kB came; try again (a connection that closed early without saying")
    # a server that stated the length sent all of it: the file is whole, and the hint does not suggest otherwise
    with pytest.raises(WeightsError, match="the downloaded file has sha256") as info:
        download(entry(url=server.add_file("w.safetensors", CONTENT[:1000]), size=False), tmp_path)
    assert info.value.hint == "1.0 kB came; try again; if it repeats, the source changed and must not be used"


def test_a_mirror_serves_url_entries_by_file_name_verified_against_the_same_pins(server, tmp_path, monkeypatch):
    """$DEBLUR_WEIGHTS_MIRROR: a company's or an air-gapped network's copy of the files; nothing is trusted
    that the pins do not vouch for."""
    e = entry(url="http://127.0.0.1:9/unreachable/w.safetensors")  # the pinned source is never asked
    server.add_file("w.safetensors", CONTENT)
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"{server.endpoint}/files/")
    assert download(e, tmp_path).read_bytes() == CONTENT
    assert [r.path for r in server.requests("GET")] == ["/files/w.safetensors"]
    absent = entry("u", url="http://127.0.0.1:9/unreachable/u.safetensors")
    with pytest.raises(WeightsError, match=r"u: .*/files/u.safetensors answered HTTP 404") as info:
        download(absent, tmp_path)  # the hint blamed the pinned source ("check weights.toml")
    assert info.value.hint == ("$DEBLUR_WEIGHTS_MIRROR points to a mirror without u.safetensors: copy it there from "
                               "http://127.0.0.1:9/unreachable/u.safetensors, or unset it")  # fmt: skip
    wrong = entry("v", url="http://127.0.0.1:9/unreachable/v.safetensors")
    server.add_file("v.safetensors", b"x" + CONTENT[1:])  # the size right, one byte not
    with pytest.raises(WeightsError, match="v: the downloaded file has sha256 .*; it was deleted") as info:
        download(wrong, tmp_path)
    assert info.value.hint == ("the mirror's v.safetensors is not the pinned file: copy it there again from "
                               "http://127.0.0.1:9/unreachable/v.safetensors")  # not 'try again': the mirror's copy
    # a copy cut short, of another size than weights.toml states: the mirror's too (its hint asked for a report of a
    # changed source, and the line named no address)
    short = entry("s", url="http://127.0.0.1:9/unreachable/s.safetensors")
    server.add_file("s.safetensors", CONTENT[:1000])
    with pytest.raises(WeightsError, match=f"^s: {server.endpoint}/files/s.safetensors offers 1000 bytes") as info:
        download(short, tmp_path)
    assert info.value.hint == ("the mirror's s.safetensors is not the pinned file: copy it there again from "
                               "http://127.0.0.1:9/unreachable/s.safetensors")  # fmt: skip
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", "/mnt/share/weights")
    with pytest.raises(WeightsError, match=r"\$DEBLUR_WEIGHTS_MIRROR must be an http\(s\) address") as info:
        download(wrong, tmp_path)
    assert "--weights FILE" in info.value.hint


def test_a_mirror_with_a_login_or_a_token_in_its_address(server, tmp_path, monkeypatch):
    """Found in review: user:password@ in $DEBLUR_WEIGHTS_MIRROR failed as a host name and printed the
    password; a ?token= query had the file's name appended after it."""
    import base64

    e = entry(url="http://127.0.0.1:9/unreachable/w.safetensors")
    server.add_file("w.safetensors", CONTENT)
    host = server.endpoint.removeprefix("http://")
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"http://me:s%40cret@{host}/files/?token=abc")
    assert download(e, tmp_path).read_bytes() == CONTENT
    (got,) = server.requests("GET")
    assert (got.path, got.query) == ("/files/w.safetensors", "token=abc")
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"me:s@cret").decode()
    # a redirect to another host (a CDN) does not take the login along
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"http://me:s%40cret@{host}/elsewhere/")
    assert download(entry("v", url="http://127.0.0.1:9/unreachable/w.safetensors"), tmp_path).read_bytes() == CONTENT
    main, cdn = server.requests("GET")[1:]
    assert (main.server, cdn.server) == ("main", "cdn") and "authorization" in main.headers
    assert "authorization" not in cdn.headers
    # a mirror that refuses the login: the hint names the mirror's login, not a file made private
    raw = RawServer(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    try:
        monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"http://me:wrong@127.0.0.1:{raw.port}/deblur/")
        with pytest.raises(WeightsError, match="answered HTTP 401") as info:
            download(entry("t", url="http://127.0.0.1:9/unreachable/t.safetensors"), tmp_path)
        assert info.value.hint == "the mirror refuses access: check the login or token in $DEBLUR_WEIGHTS_MIRROR"
    finally:
        raw.close()
    # lines show neither the password nor the token
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"http://me:s%40cret@{host}/nothing/?token=abc")
    with pytest.raises(WeightsError) as info:
        download(entry("u", url="http://127.0.0.1:9/unreachable/u.safetensors"), tmp_path)
    assert str(info.value) == f"u: http://{host}/nothing/u.safetensors?*** answered HTTP 404 Not Found"


def test_a_login_is_never_shown_nor_sent_where_it_was_not_given(monkeypatch, tmp_path):
    """Found in review: a token given as the user name was printed whole, as was a mirror written without its
    scheme; a redirect from https to http on the same host kept the login; a bracket left open was an
    internal error."""
    import urllib.request
    from email.message import Message

    from deblur_cli.weights.urls import _HttpRedirects, shown

    assert shown("https://ghp_TOKEN@host/x/") == "https://***@host/x/"
    assert shown("http://me:secret@host:8080/x/?token=abc") == "http://***@host:8080/x/?***"
    assert shown("me:secret@host/x/") == "***@host/x/" and shown("http://[bad@host/") == "***@host/"
    assert shown("https://host/x/GOPRO.pth") == "https://host/x/GOPRO.pth"
    handler = _HttpRedirects()
    for target, kept in (("https://mirror.example/b", True), ("https://mirror.example:443/b", True),
                         ("http://mirror.example/b", False), ("https://cdn.example/b", False),
                         ("https://mirror.example:8443/b", False)):  # fmt: skip
        request = urllib.request.Request("https://mirror.example/a", headers={"Authorization": "Basic x"})
        new = handler.redirect_request(request, None, 302, "Found", Message(), target)
        assert new.has_header("Authorization") == kept, target
    for mirror in ("me:secret@weights.example/deblur/", "http://[bad/deblur/"):
        monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", mirror)
        with pytest.raises(WeightsError, match=r"\$DEBLUR_WEIGHTS_MIRROR must be an http\(s\) address") as info:
            download(entry(url="http://127.0.0.1:9/unreachable/w.safetensors"), tmp_path)
        assert "secret" not in str(info.value)


def test_the_official_checkpoints_come_from_a_mirror_and_are_refused_when_they_differ(server, tmp_path, monkeypatch):
    """The packaged registry's DSTNet entries, fetched through the CLI from a mirror that holds other bytes
    under their name: named as fetched from the mirror, and refused by the pin."""
    from deblur_cli.cli import app

    server.add_file("GOPRO.pth", b"not the official checkpoint")
    monkeypatch.setenv("DEBLUR_WEIGHTS_MIRROR", f"{server.endpoint}/files")
    result = CliRunner().invoke(app, ["download-weights", "dstnet-gopro", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.stderr.split())
    assert f"downloading dstnet-gopro (27 B) from {server.endpoint}/files/GOPRO.pth" in said
    assert "dstnet-gopro: the downloaded file has git-blob-sha1" in said and "it was deleted" in said
    assert not list((tmp_path / "weights").rglob("*.pth")) and not list((tmp_path / "weights").rglob("*.safetensors"))


# --- CLI ---------------------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, server, bundled):
    """The CLI app, with the registry replaced by one that points at the test server."""
    import deblur_cli.cli.weights  # noqa: F401 - registers the commands if cli/__init__ does not yet
    from deblur_cli.cli import app

    b, _ = bundled
    w = entry(url=server.add_file("w.safetensors", CONTENT))
    gone = entry("gone", url=f"{server.endpoint}/files/gone")
    registry = _registry_of(w, gone, b, defaults={"dstnet": ("w",), "dstnet-s": ("b",)})
    monkeypatch.setattr(registry_module, "_packaged_registry", lambda: registry)

    def invoke(*args):
        return CliRunner().invoke(app, list(args))

    return invoke


def test_cli_models_table_and_json(cli, tmp_path):
    result = cli("models", "--cache-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "missing" in rows["w"] and "bundled" in rows["b"] and "307.2 kB" in rows["w"]

    assert cli("download-weights", "w", "--cache-dir", str(tmp_path)).exit_code == 0
    listed = json.loads(cli("models", "--json", "--cache-dir", str(tmp_path)).stdout)
    assert {row["name"]: row["status"] for row in listed} == {"w": "cached", "gone": "missing", "b": "bundled"}
    paths = {row["name"]: row["path"] for row in listed}  # where each file is here, as download-weights prints it
    assert paths["w"] == cli("download-weights", "w", "--cache-dir", str(tmp_path)).stdout.strip()
    assert paths["gone"] is None and Path(paths["b"]).is_file()
    assert listed[0]["default_for"] == ["dstnet"] and listed[0]["size"] == len(CONTENT)


def test_cli_download_weights(cli, server, tmp_path):
    result = cli("download-weights", "w", "--cache-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = tmp_path / "weights" / "w" / "w.safetensors"
    assert result.stdout == f"{path}\n"
    assert "w: downloaded and verified" in result.stderr
    again = cli("download-weights", "w", "--cache-dir", str(tmp_path))
    assert "w: already cached" in again.stderr and len(server.requests()) == 1
    path.write_bytes(b"x" + path.read_bytes()[1:])  # damaged after it was verified
    repaired = cli("download-weights", "w", "--cache-dir", str(tmp_path))
    assert repaired.exit_code == 0 and path.read_bytes() == CONTENT and len(server.requests()) == 2
    assert "damaged since it was verified" in repaired.stderr and "w: downloaded and verified" in repaired.stderr
    forced = cli("download-weights", "w", "--cache-dir", str(tmp_path), "--force")
    assert forced.exit_code == 0 and len(server.requests()) == 3
    assert f"downloading w (307.2 kB) from {server.endpoint}" in forced.stderr
    quiet = cli("download-weights", "w", "--cache-dir", str(tmp_path), "--force", "-q")
    assert quiet.exit_code == 0 and len(server.requests()) == 4 and quiet.stderr == "w: downloaded and verified\n"
    for extra in ([], ["--force"]):  # the package's own file: not "cached", and never "downloaded"
        packaged = cli("download-weights", "b", "--cache-dir", str(tmp_path), *extra)
        assert packaged.exit_code == 0 and "b: bundled with deblur, nothing to download" in packaged.stderr
    assert len(server.requests()) == 4


def test_cli_download_errors(cli, tmp_path):
    one = cli("download-weights", "gone", "--cache-dir", str(tmp_path))
    assert one.exit_code == 1
    assert one.stderr.splitlines()[0].startswith("error: gone: http://127.0.0.1:")
    every = cli("download-weights", "--all", "--cache-dir", str(tmp_path))
    assert every.exit_code == 1
    assert every.stdout == f"{tmp_path / 'weights' / 'w' / 'w.safetensors'}\n"
    assert "error: 1 of 2 downloads failed: gone" in every.stderr
    unknown = cli("download-weights", "nope")
    assert unknown.exit_code == 1 and "unknown weights 'nope'" in unknown.stderr
    assert cli("download-weights").exit_code == 2
    assert cli("download-weights", "w", "--all").exit_code == 2


def test_cli_download_goes_on_past_a_cache_it_cannot_write(cli, tmp_path):
    """An OSError of the cache (here its locks folder is a file) is one line per name, naming the weights
    and the folder; the loop goes on to the end, and `run` (through resolve_weights) gets the same line."""
    (tmp_path / "locks").write_text("")
    result = cli("download-weights", "w", "gone", "--cache-dir", str(tmp_path))
    assert result.exit_code == 1 and result.stdout == ""
    for name in ("w", "gone"):
        assert f"error: {name}: cannot use the weights cache {tmp_path}: {tmp_path / 'locks'} is a file, not a folder" in result.stderr
    assert "error: 2 of 2 downloads failed: w, gone" in result.stderr
    with pytest.raises(OutputError, match=f"w: cannot use the weights cache {tmp_path}: ") as info:
        resolve_weights("dstnet", cache_dir=tmp_path)
    assert "--cache-dir" in info.value.hint


def test_cli_cache_dir_must_name_a_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    for command in ("download-weights", "models"):
        empty = cli(command, "w", "--cache-dir", "") if command == "download-weights" else cli(command, "--cache-dir", "")
        assert empty.exit_code == 2 and empty.stderr.splitlines()[0] == "error: --cache-dir is empty", empty.output
        a_file = cli(command, "--cache-dir", "afile")
        assert a_file.exit_code == 2 and a_file.stderr.splitlines()[0] == "error: --cache-dir afile is a file, not a folder"
    assert not (tmp_path / "weights").exists() and not (tmp_path / "locks").exists()  # nothing made in the current folder
    monkeypatch.setenv("DEBLUR_CACHE", str(tmp_path / "afile"))  # accepted, then shown as the cache by `models`
    for args in (("models",), ("download-weights", "w")):
        a_file = cli(*args)
        assert a_file.exit_code == 2, a_file.output
        assert a_file.stderr.splitlines()[0] == f"error: $DEBLUR_CACHE {tmp_path / 'afile'} is a file, not a folder"


def test_cli_run_says_what_it_downloads(monkeypatch, server, tmp_path, official_pth):
    """`run` that must download its weights says so on stderr (a bar too, in a terminal), as
    `download-weights` does; not with --quiet."""
    from tests.media import make_video

    from deblur_cli.cli import app

    pth = entry("c", url=server.add_file("GOPRO.pth", official_pth), content=official_pth,
                extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    monkeypatch.setattr(registry_module, "_packaged_registry", lambda: _registry_of(pth))
    make_video(tmp_path / "in.mp4", frames=3, size=(32, 32))
    for quiet in ([], ["--quiet"]):
        cache_dir = tmp_path / f"cache{len(quiet)}"
        args = ["run", str(tmp_path / "in.mp4"), "-o", str(tmp_path / f"out{len(quiet)}.mp4"), "--model", "dstnet",
                "--device", "cpu", "--cache-dir", str(cache_dir), *quiet]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        said = f"downloading c ({len(official_pth) / 1000:.1f} kB) from {server.endpoint}/files/GOPRO.pth"
        assert (said in result.stderr.splitlines()) == (not quiet), result.stderr


@pytest.mark.parametrize("command", ["bench", "demo"])
def test_bench_and_demo_take_cache_dir_and_offline(server, tmp_path, official_pth, command, monkeypatch):
    """They read $DEBLUR_CACHE alone: weights fetched with download-weights --cache-dir were out of their reach."""
    from deblur_cli.cli import app

    pth = entry("c", url=server.add_file("GOPRO.pth", official_pth), content=official_pth,
                extra="config = { feat = 8, blocks = 1 }\n")  # fmt: skip
    monkeypatch.setattr(registry_module, "_packaged_registry", lambda: _registry_of(pth))
    args = {"bench": ["bench", "--size", "64x48", "--frames", "2"],
            "demo": ["demo", "-o", str(tmp_path / "demo"), "--size", "64x48", "--frames", "3"]}[command]  # fmt: skip

    def invoke(cache: str, *extra: str):
        where = ["--cache-dir", str(tmp_path / cache)]
        return CliRunner().invoke(app, [*args, "-m", "dstnet", "--device", "cpu", *where, *extra])

    offline = invoke("empty", "--offline")
    assert offline.exit_code == 1 and "not downloaded" in offline.stderr and not server.requests(), offline.output
    fetched = invoke("cache")
    assert fetched.exit_code == 0, fetched.output
    assert list((tmp_path / "cache/weights/c").iterdir()) and len(server.requests()) == 1
    again = invoke("cache", "--offline", "--force") if command == "demo" else invoke("cache", "--offline")
    assert again.exit_code == 0 and len(server.requests()) == 1, again.output


def test_cli_download_weights_finishes_its_bar_before_the_path(cli, tmp_path, monkeypatch):
    """In a terminal the bar (on stderr) is cleared before the path goes to stdout: on one terminal
    both streams share a line, and the path must not be glued to the bar's."""
    from rich.console import Console

    terminal = io.StringIO()
    monkeypatch.setattr("deblur_cli.cli.weights.err", Console(file=terminal, force_terminal=True, width=100))
    monkeypatch.setattr("deblur_cli.cli.weights.out", Console(file=terminal, force_terminal=True, width=100))
    result = cli("download-weights", "w", "--cache-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = str(tmp_path / "weights" / "w" / "w.safetensors")
    shown = terminal.getvalue()
    assert "━" in shown  # the bar was drawn
    before_path = shown[: shown.index(path)]
    # what precedes the path ends a line, or clears it (rich erases a transient bar with ESC[2K and
    # moves the cursor back to its start)
    assert before_path.endswith("\n") or before_path.removesuffix("\x1b[?25h").endswith(("\x1b[2K", "\r")), repr(before_path[-80:])


def test_exclusive_lock_makes_a_second_holder_wait(tmp_path):
    import threading

    from deblur_cli.weights.lock import exclusive

    waited, order = threading.Event(), []

    def second():
        with exclusive(tmp_path / "x.lock", on_wait=waited.set):
            order.append("second")

    with exclusive(tmp_path / "x.lock"):
        thread = threading.Thread(target=second)
        thread.start()
        assert waited.wait(timeout=30)  # it found the lock taken
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]


def test_a_download_waiting_for_another_says_so_and_finds_the_file_cached(server, tmp_path):
    import threading

    import importlib

    download_module = importlib.import_module("deblur_cli.weights.download")
    from deblur_cli.weights.lock import exclusive

    e = entry(url=server.add_file("w.safetensors", CONTENT))
    waiting = threading.Event()
    heard, fetched, result = [], [], []

    def warn(line: str) -> None:
        heard.append(line)
        waiting.set()

    def second() -> None:
        result.append(download(e, tmp_path, warn=warn, on_fetch=lambda: fetched.append(True)))

    with exclusive(cache.lock_path(e, tmp_path)):  # another process is fetching the entry
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(timeout=30)
        mine = download_module._download_unlocked(
            e, tmp_path, force=False, offline=None, progress=None, local_copy="use a local copy"
        )
    thread.join(timeout=30)
    assert heard == ["w: another deblur process is fetching these weights; waiting for it"]
    assert result == [mine] and mine.read_bytes() == CONTENT
    assert not fetched and len(server.requests("GET")) == 1  # the waiting one did not fetch it again
