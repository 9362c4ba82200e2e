"""A real HTTP server on 127.0.0.1 for download tests: plain files and a Hugging Face Hub look-alike.

What huggingface_hub (2.x) needs from `HEAD/GET {endpoint}/{repo_id}/resolve/{revision}/{filename}`
(file_download.get_hf_file_metadata and http_get):
- `X-Repo-Commit` (the commit the revision resolves to) on the metadata response, else it gives up;
- `X-Linked-Etag` or `ETag` (the blob's name in its cache) and `X-Linked-Size` or `Content-Length`;
- for a large (LFS) file the Hub answers 302 with those headers and a `Location` on another host; a
  redirect off the Hub's origin is not followed for HEAD, and the GET goes to the Location directly,
  without the Authorization header. Here that other host is a second server on another port.
- 404s carry `X-Error-Code` (`EntryNotFound`, `RepoNotFound`, `RevisionNotFound`).
Plain files are at /files/<name>, /redirect/<name> answers 302 to them, /moved/<name> 308, and
/elsewhere/<name> 302 to the other host (a CDN), which serves every file by its sha256 too. Every GET honours
`Range: bytes=N-` (206 + Content-Range; 416 past the end), except on paths told to answer whole (a
proxy, a login portal). Every request is recorded.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)")
_RANGE = re.compile(r"bytes=(\d+)-")


@dataclass
class Seen:
    """One request as the server received it."""

    server: str  # "main" or "cdn"
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    query: str = ""  # after the path's ?


@dataclass
class HubFile:
    content: bytes
    lfs: bool  # True: served like an LFS file (302 to the CDN server); False: answered directly


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)  # plain URL path -> content
    hub: dict[tuple[str, str, str], HubFile] = field(default_factory=dict)  # (repo, commit, filename)
    cut_after: dict[str, list[int]] = field(default_factory=dict)  # path -> bytes to send before closing, per GET
    no_range: set[str] = field(default_factory=set)  # paths answered whole (200), whatever Range asks
    content_type: dict[str, str] = field(default_factory=dict)  # path -> Content-Type header
    failing: dict[str, int] = field(default_factory=dict)  # path -> the error status every request gets
    seen: list[Seen] = field(default_factory=list)


class LocalServer:
    """Two threads of HTTP on 127.0.0.1: `main` (plain files and the Hub endpoint) and `cdn` (LFS blobs)."""

    def __init__(self) -> None:
        self.state = ServerState()
        self._main = _serve(self.state, "main")
        self._cdn = _serve(self.state, "cdn")
        self._main.cdn_origin = self._origin(self._cdn)

    @staticmethod
    def _origin(server: ThreadingHTTPServer) -> str:
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        """The base URL: plain files under /files/, Hub repos under /{repo_id}/resolve/..."""
        return self._origin(self._main)

    def add_file(self, name: str, content: bytes) -> str:
        """Serve `content` at /files/<name>; returns its URL."""
        self.state.files[f"/files/{name}"] = content
        return f"{self.endpoint}/files/{name}"

    def add_hub_file(self, repo_id: str, commit: str, filename: str, content: bytes, *, lfs: bool = True) -> None:
        self.state.hub[(repo_id, commit, filename)] = HubFile(content, lfs)

    def cut(self, url_or_path: str, *after: int) -> None:
        """The next GETs of this path send only `after[i]` body bytes, then drop the connection."""
        path = url_or_path.removeprefix(self.endpoint)
        self.state.cut_after[path] = list(after)

    def answer_whole(self, url_or_path: str, content_type: str | None = None) -> None:
        """GETs of this path ignore Range and answer 200 with the whole content (as a proxy or a login
        portal does), with `content_type` if given."""
        path = url_or_path.removeprefix(self.endpoint)
        self.state.no_range.add(path)
        if content_type is not None:
            self.state.content_type[path] = content_type

    def fail(self, url_or_path: str, status: int) -> None:
        """Every request of this path is answered `status` (503: a server too busy to answer)."""
        self.state.failing[url_or_path.removeprefix(self.endpoint)] = status

    def requests(self, method: str | None = None, server: str | None = None) -> list[Seen]:
        return [s for s in self.state.seen if method in (None, s.method) and server in (None, s.server)]

    def close(self) -> None:
        for server in (self._main, self._cdn):
            server.shutdown()
            server.server_close()


def _serve(state: ServerState, name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.state = state
    server.name = name
    # a short poll keeps shutdown() (once per test) from waiting the default half second
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return server


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        state: ServerState = self.server.state
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        state.seen.append(Seen(self.server.name, self.command, path, headers, query))
        if path in state.failing:
            return self._status(state.failing[path])
        if self.server.name == "cdn":
            blobs = [f.content for f in state.hub.values()] + list(state.files.values())
            blob = next((content for content in blobs if _sha256(content) == path.removeprefix("/")), None)
            return self._content(blob, path, body) if blob is not None else self._status(404)
        if path in state.files:
            return self._content(state.files[path], path, body)
        if path.startswith("/redirect/"):  # like github.com/<repo>/raw/... answering with the file's real URL
            return self._status(302, {"Location": "/files/" + path.removeprefix("/redirect/")})
        if path.startswith("/elsewhere/") and "/files/" + path.removeprefix("/elsewhere/") in state.files:  # a CDN
            content = state.files["/files/" + path.removeprefix("/elsewhere/")]
            return self._status(302, {"Location": f"{self.server.cdn_origin}/{_sha256(content)}"})
        if path.startswith("/moved/"):  # a permanent redirect that keeps the method (308)
            return self._status(308, {"Location": "/files/" + path.removeprefix("/moved/")})
        match = _RESOLVE.fullmatch(path)
        if match:
            repo, revision, filename = (unquote(match[k]) for k in ("repo", "revision", "filename"))
            return self._resolve(state, repo, revision, filename, body)
        self._status(404)

    def _resolve(self, state: ServerState, repo: str, revision: str, filename: str, body: bool) -> None:
        repos = {key[0] for key in state.hub}
        commits = {key[1] for key in state.hub if key[0] == repo}
        if repo not in repos:
            return self._status(404, {"X-Error-Code": "RepoNotFound"})
        if revision not in commits:
            return self._status(404, {"X-Error-Code": "RevisionNotFound"})
        entry = state.hub.get((repo, revision, filename))
        if entry is None:
            return self._status(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": revision})
        if entry.lfs:
            digest = _sha256(entry.content)
            return self._status(
                302,
                {
                    "Location": f"{self.server.cdn_origin}/{digest}",
                    "X-Repo-Commit": revision,
                    "X-Linked-Etag": f'"{digest}"',
                    "X-Linked-Size": str(len(entry.content)),
                    "ETag": f'"{git_blob_id(digest.encode())}"',  # the pointer file's id, as on the Hub
                },
            )
        self._content(
            entry.content, self.path, body, {"X-Repo-Commit": revision, "ETag": f'"{git_blob_id(entry.content)}"'}
        )

    def _content(self, content: bytes, path: str, body: bool, extra: dict[str, str] | None = None) -> None:
        start = 0
        match = _RANGE.fullmatch(self.headers.get("Range", ""))
        if match and path not in self.server.state.no_range:
            start = int(match[1])
            if start >= len(content):
                return self._status(416, {"Content-Range": f"bytes */{len(content)}"})
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(content) - start))
        self.send_header("Accept-Ranges", "bytes")
        if path in self.server.state.content_type:
            self.send_header("Content-Type", self.server.state.content_type[path])
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not body:
            return
        cuts = self.server.state.cut_after.get(path)
        payload = content[start:]
        if cuts:
            self.wfile.write(payload[: cuts.pop(0)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def _status(self, code: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
