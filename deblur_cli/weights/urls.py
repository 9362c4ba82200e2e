"""Streaming a file from a plain URL into `<target>.part`, resuming a partial file with an HTTP Range request."""

from __future__ import annotations

import base64
import contextlib
import email.message
import http.client
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from deblur_cli import __version__
from deblur_cli.callbacks import ProgressFn
from deblur_cli.errors import WeightsError
from deblur_cli.files import open_own
from deblur_cli.wording import readable_size

Headers = Mapping[str, str] | email.message.Message  # an answer's headers, by name
Hints = Mapping[int | str, str]  # hints that replace fetch's own: by HTTP status, and "size" (see fetch)

# the way round a download that fails, in hints; `deblur download-weights` itself takes no weights file
LOCAL_COPY = "use a local copy with --weights (run, evaluate, bench, demo, info --estimate)"
PART_SUFFIX = ".part"
ATTEMPTS = 3  # connections that drop mid-file are resumed at once, this many tries in all
TIMEOUT_S = 30.0  # per socket operation, not for the whole file
_CHUNK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Dropped(Exception):
    """The connection ended before the file did; the bytes received so far are in the .part file. `stalled`:
    it waited TIMEOUT_S for bytes and none came at all, which trying again would most likely repeat."""

    def __init__(self, message: str, *, stalled: bool = False):
        super().__init__(message)
        self.stalled = stalled


class _OffHttp(Exception):
    """A redirect to an address that is not http(s); the argument is that address."""


class _HttpRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) addresses only: urllib follows one to ftp:// too, and a failure there
    would be blamed on the URL asked for."""

    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("Location") or headers.get("URI")
        if location is not None:
            target = urljoin(req.full_url, location)
            if urlsplit(target).scheme not in ("http", "https"):
                fp.close()
                raise _OffHttp(target)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """As urllib's, with 308 (permanent, as 301) followed on Python 3.10 too, whose urllib refuses it, and
        a mirror's login kept from other hosts (urllib passes it on to wherever a redirect points)."""
        if code == 308 and req.get_method() in ("GET", "HEAD"):
            code = 301
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):  # another host, or https to http
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the port where the scheme does not imply it: what a login is sent to."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number: no origin a login was given for
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


def _opener() -> urllib.request.OpenerDirector:
    """An opener whose HTTPS trusts what OpenSSL's defaults say now (SSL_CERT_FILE, SSL_CERT_DIR): Python 3.13's
    default handler reads them once, when it is made."""
    https = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    return urllib.request.build_opener(_HttpRedirects, https)


def shown(url: str) -> str:
    """`url` as a line may show it: a login in it (user:password@, or a token alone as the user) and a query
    (?token=...) starred; a value that is no address, but has an @, starred up to it."""
    try:
        parts = urlsplit(url)
    except ValueError:  # no address (a bracket left open): whatever comes before an @ may be a login
        return f"***@{url.rpartition('@')[2]}" if "@" in url else url
    if not parts.netloc and "@" in url:  # no scheme: "me:secret@host/..." reads as a scheme and a path
        return f"***@{url.rpartition('@')[2]}"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"***@{netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, query="***" if parts.query else ""))


def _without_login(url: str) -> tuple[str, str | None]:
    """(`url` without a user:password@ part, that part as "user:password", unquoted; None without one)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), login


class Fetched(NamedTuple):
    path: Path  # the whole file, not verified
    stated: bool  # the server stated the file's length: a connection that closed early was noticed


def part_path(target: Path) -> Path:
    """The partial file a download of `target` grows in."""
    return target.with_name(target.name + PART_SUFFIX)


def whole_path(target: Path) -> Path:
    """Where the file goes when a server answers a resumed download with all of it (200, not 206): apart
    from the .part, which stays until this one is verified, as the answer may be something else."""
    return target.with_name(target.name + ".whole" + PART_SUFFIX)


def fetch(
    url: str,
    target: Path,
    *,
    label: str,
    size: int | None,
    limit: int,
    progress: ProgressFn | None = None,
    hints: Hints | None = None,
    local_copy: str = LOCAL_COPY,
) -> Fetched:
    """Download `url` to `part_path(target)` and return the path that holds the whole file, not verified,
    and whether the server stated its length (then every byte of it came).

    A .part file left by an earlier, interrupted call is resumed with `Range: bytes=<have>-`; a server
    that ignores the range and sends all of the file fills `whole_path(target)` instead, which is
    returned: the caller deletes the .part once that file is verified. `size` (when known) must match
    the server's length; without it the file may not exceed `limit` bytes. An answer that is a web page
    (a login portal, a proxy) is refused. Every failure is a WeightsError; the .part file is kept when
    resuming can help. `hints` replace the hints of HTTP statuses, by status (a mirror's 404 is the mirror's), and
    under "size" that of a file whose length is not weights.toml's (a mirror's copy cut short is the mirror's).
    `local_copy` ends the hints that a local copy of the file gets round: how the command at hand takes one.
    """
    part, whole = part_path(target), whole_path(target)
    made = not part.parent.exists()
    part.parent.mkdir(parents=True, exist_ok=True)
    try:
        for _ in range(ATTEMPTS):
            try:
                return _get(
                    url, part, whole, label=label, size=size, limit=limit, progress=progress, hints=hints,
                    local_copy=local_copy,
                )  # fmt: skip
            except _Dropped as e:
                dropped = e
                if e.stalled:  # a server that sent nothing for TIMEOUT_S: not TIMEOUT_S more, twice
                    break
        whole.unlink(missing_ok=True)  # a server that ignores ranges cannot resume it either
        raise WeightsError(f"{label}: download interrupted ({dropped})", hint="run the same command again: it resumes")
    except WeightsError:
        if made:  # the entry's folder, left empty by a download that got nothing (offline): not kept
            with contextlib.suppress(OSError):  # not empty: a .part kept to resume
                part.parent.rmdir()
        raise


class _Plan(NamedTuple):
    """How the body of an answer is taken (`_body_plan`)."""

    verdict: Literal["take", "start over", "other size", "too large"]
    # "take" the body; "start over": a 206 from another byte than asked, the .part is no use;
    # "other size": not the length weights.toml states; "too large": over the limit for a file of unstated size
    whole: bool  # the body is all of the file although part of it was held: it goes to whole_path
    have: int  # the bytes held that the body continues; 0 when the body is all of the file
    total: int | None  # the file's length as the server states it
    expected: int | None  # the length the file must reach: the stated one, else weights.toml's
    cap: int  # the most bytes the file may hold


def _body_plan(status: int, headers: Headers, have: int, *, size: int | None, limit: int) -> _Plan:
    """The resume and size rules for an answer (`status`, `headers`) to a request for the bytes from `have` on
    (all of the file when `have` is 0), for a file of `size` bytes (None: unstated, then at most `limit`).

    A 206 continues the .part from `have` when its Content-Range starts there; any other answer (a 200: the server
    ignored the range) is all of the file, which goes to whole_path when part of it was held.
    """
    whole = False
    if have and status == 206:
        match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", ""))
        if not match or int(match[1]) != have:
            return _Plan("start over", False, have, None, None, 0)
        total = int(match[3]) if match[3] != "*" else None
    else:
        whole, have = bool(have), 0
        length = headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
    expected = total if total is not None else size
    cap = expected if expected is not None else limit
    verdict = "take"
    if size is not None and total is not None and total != size:
        verdict = "other size"
    elif size is None and cap > limit:
        verdict = "too large"
    return _Plan(verdict, whole, have, total, expected, cap)


def _holds_whole_file(headers: Headers, have: int, size: int | None) -> bool:
    """Whether a 416 (the range starts past the end) to a request from byte `have` shows that the .part is the
    whole file: its Content-Range states that length, and weights.toml no other."""
    return _total_from_range(headers.get("Content-Range")) == have and size in (None, have)


def _get(
    url: str,
    part: Path,
    whole: Path,
    *,
    label: str,
    size: int | None,
    limit: int,
    progress: ProgressFn | None,
    hints: Hints | None,
    local_copy: str,
) -> Fetched:
    # a link at the .part's name is not a partial download of ours: started afresh (open_own removes it)
    have = part.stat().st_size if part.exists() and not part.is_symlink() else 0
    url, login = _without_login(url)
    response = _open(url, login, part, have, label=label, size=size, hints=hints, local_copy=local_copy)
    if isinstance(response, Fetched):
        return response
    with response:
        if response.headers.get_content_type() == "text/html":
            raise WeightsError(
                f"{label}: the server answered with a web page, not the weights: a login portal or proxy? "
                f"({shown(url)})",
                hint="open the URL in a browser to see what it asks for"
                + ("; the partial download is kept for the next try" if have else ""),
            )
        plan = _body_plan(response.status, response.headers, have, size=size, limit=limit)
        if plan.verdict == "start over":
            part.unlink()
            raise _Dropped("server resumed at the wrong byte")
        into = whole if plan.whole else part
        if plan.verdict == "other size":
            into.unlink(missing_ok=True)
            changed = "the source changed: do not use it until deblur's weights.toml is updated (please report it)"
            raise WeightsError(
                f"{label}: {shown(url)} offers {plan.total} bytes, weights.toml expects {size}",
                hint=(hints or {}).get("size", changed),
            )
        if plan.verdict == "too large":
            raise WeightsError(
                f"{label}: the file is {readable_size(plan.cap)}, more than the {readable_size(limit)} limit for a "
                "download whose size weights.toml does not state",
                hint="fetch the file yourself and " + local_copy + "; maintainers: state its size in weights.toml "
                "(size = <bytes>)",
            )
        have, expected = plan.have, plan.expected
        if progress is not None:  # the size is known now: a bar can show before the first bytes
            progress(have, expected or 0)
        try:
            done = _receive(response, into, have=have, cap=plan.cap, expected=expected, label=label, progress=progress)
        except OSError as e:  # writing the .part: a full disk, a folder made read-only meanwhile
            raise WeightsError(
                f"{label}: cannot write {into}: {e.strerror or e}",
                hint="free some space (or choose another folder with --cache-dir), then run the same command: it resumes",
            ) from None
    if expected is not None and done < expected:
        raise _Dropped(f"{done} of {expected} bytes")
    return Fetched(into, stated=plan.total is not None)


def _open(
    url: str,
    login: str | None,
    part: Path,
    have: int,
    *,
    label: str,
    size: int | None,
    hints: Hints | None,
    local_copy: str,
) -> http.client.HTTPResponse | Fetched:
    """Ask for `url` from byte `have` on (all of it when `have` is 0), with deblur's headers and `login`
    ("user:password", taken out of the address) as HTTP basic authentication: the open response, or Fetched(part)
    when the server answers that the .part is the whole file already. Failing to get an answer, or an HTTP error
    status, is a WeightsError; a .part the server will not resume is deleted (_Dropped)."""
    headers = {"User-Agent": f"deblur/{__version__}", "Accept-Encoding": "identity"}
    if login is not None:  # user:password@ in a mirror's address: HTTP basic authentication, as curl does
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode("utf-8")).decode("ascii")
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return _opener().open(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except _OffHttp as e:
        raise WeightsError(
            f"{label}: {shown(url)} redirects to {shown(e.args[0])}, which is not an http(s) address",
            hint="the server is misconfigured; " + local_copy,
        ) from None
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and have:
            if _holds_whole_file(e.headers, have, size):
                return Fetched(part, stated=True)
            part.unlink()
            raise _Dropped(f"server refused to resume at byte {have}") from None
        raise _http_error(label, url, e, hints or {}, local_copy) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
        # URLError: no connection (DNS, refused, proxy); OSError: a time-out; HTTPException: an answer
        # that is not HTTP; ValueError: a redirect to an address that is not one. The URL is the one
        # asked for: urllib does not say which hop of a redirect failed.
        reason = getattr(e, "reason", e)
        hint = "check the network connection, or " + local_copy
        if isinstance(reason, ssl.SSLCertVerificationError):  # the connection works; the certificate is not trusted
            hint = "if the server's certificate is your organisation's (a proxy, a mirror), set SSL_CERT_FILE "
            hint += "to its CA certificate; or " + local_copy
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            reason = f"no answer within {TIMEOUT_S:g} s"
        else:
            reason = getattr(reason, "strerror", None) or _one_line(str(reason)) or type(reason).__name__
        raise WeightsError(f"{label}: cannot download {shown(url)}: {reason}", hint=hint) from None


def _receive(
    response, part: Path, *, have: int, cap: int, expected: int | None, label: str, progress: ProgressFn | None
) -> int:
    """Append the response's body to `part` (or write it afresh when `have` is 0); returns the bytes held.

    A connection that drops raises _Dropped, the bytes so far kept; more than `cap` bytes deletes the file.
    """
    done = have
    with open_own(part, append=bool(have)) as f:
        while True:
            try:
                chunk = response.read1(_CHUNK)  # what has come, up to _CHUNK: kept if the server then stalls
            except (http.client.HTTPException, OSError) as e:
                timed_out = isinstance(e, TimeoutError) or "timed out" in str(e)
                why = f"the server sent nothing for {TIMEOUT_S:g} s" if timed_out else "the connection broke"
                stalled = timed_out and done == have
                raise _Dropped(f"{done} of {expected or '?'} bytes; {why}", stalled=stalled) from None
            if not chunk:
                return done
            done += len(chunk)
            if done > cap:
                f.close()
                part.unlink()
                raise WeightsError(f"{label}: the server sent more than {cap} bytes; the partial file was deleted")
            f.write(chunk)
            if progress is not None:
                progress(done, expected or 0)


def _http_error(label: str, url: str, e: urllib.error.HTTPError, hints: Hints, local_copy: str) -> WeightsError:
    """The error for an HTTP status the download cannot go on from, with a hint fitting that status
    (`hints`' where it has one)."""
    if 300 <= e.code < 400:  # urllib follows redirects: one left over loops, or points nowhere
        return WeightsError(
            f"{label}: {shown(url)} answered HTTP {e.code} and its redirects lead nowhere (a loop, or no Location)",
            hint="the server is misconfigured; " + local_copy,
        )
    hint = hints.get(e.code, status_hint(e.code, local_copy))
    return WeightsError(f"{label}: {shown(url)} answered HTTP {e.code} {_one_line(str(e.reason))}", hint=hint)


def status_hint(code: int, local_copy: str) -> str:
    """The hint for an HTTP error status (not a redirect) that a download of a pinned file cannot go on from;
    `local_copy` says how the command at hand takes a file instead."""
    if code >= 500 or code == 429:
        return "the server is failing or busy, not the file: try again later"
    if code in (401, 403):
        return "the server refuses access: the file may have been made private; " + local_copy
    # 404, 410: weights.toml is deblur's own (packaged), which its users do not edit
    gone = "the pinned file is gone or moved: deblur's weights.toml needs a new address (please report it); "
    return gone + local_copy


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _total_from_range(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", header or "")
    return int(match[1]) if match else None
