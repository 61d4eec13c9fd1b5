"""Bounded request heads: uvicorn's httptools protocol with a cap on header bytes and header count.

uvicorn (httptools) buffers a request's head whole before the app sees it: the URL in the protocol,
each header's name and value inside the parser until the header ends. One request with a 256 MiB
header therefore costs 256 MiB before anything can refuse it. This protocol counts while the head
is still arriving and answers `431 Request Header Fields Too Large` as soon as a limit is passed:

* bytes: every byte received while the head is incomplete counts (checked after each read, so the
  parser never holds more than the limit plus one socket read, 256 KiB at most); once the head is
  complete, the URL plus each header's name, value and separators count exactly, so a head that
  arrives in one read is held to the same limit;
* count: more than `max_headers` header lines.

After a 431 the connection half-closes (the response and a FIN are sent), what the client still
sends is read and dropped for at most `LINGER_SECONDS` (closing at once with unread data would reset
the connection and could destroy the 431 before the client reads it), then the connection closes.
"""
from __future__ import annotations

import asyncio

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_HEADERS = 100
LINGER_SECONDS = 2.0
HEADER_OVERHEAD = 4  # ": " and CRLF around each header


class HeaderLimitExceeded(Exception):
    """Raised inside a parser callback to stop parsing; the protocol answers 431."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request head over `max_header_bytes` or `max_headers` with 431.

    Use `bounded_http_protocol(...)` to get a subclass with the limits set; pass it as
    `uvicorn.Config(http=...)`."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._head_done = False     # the current request's head is complete (its body, if any, may follow)
        self._raw_head_bytes = 0    # bytes received while the head was incomplete
        self._field_bytes = 0       # URL + header names, values and separators, counted exactly
        self._header_count = 0
        self._refusal: str | None = None  # why the request is refused, once it is
        self._linger: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ reading
    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # the 431 is sent; drop what the client still sends until the connection closes
        counting = not self._head_done
        if counting:
            self._raw_head_bytes += len(data)
        # as HttpToolsProtocol.data_received, with the refusal told apart from a malformed request
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:  # a limit hit inside a parser callback
                self._send_431()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        if counting and not self._head_done and self._raw_head_bytes > self.max_header_bytes:
            self._refusal = f"request head larger than {self.max_header_bytes} bytes"
            self._send_431()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._field_bytes = 0
        self._header_count = 0

    def on_url(self, url: bytes) -> None:
        self._count_field(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = f"more than {self.max_headers} header fields"
            raise HeaderLimitExceeded(self._refusal)
        self._count_field(len(name) + len(value) + HEADER_OVERHEAD)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._raw_head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_done = False  # what follows on a kept-alive connection is the next request's head
        self._raw_head_bytes = 0
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)

    # ------------------------------------------------------------ refusing
    def _count_field(self, size: int) -> None:
        self._field_bytes += size
        if self._field_bytes > self.max_header_bytes:
            self._refusal = f"request head larger than {self.max_header_bytes} bytes"
            raise HeaderLimitExceeded(self._refusal)

    def _send_431(self) -> None:
        self.parser = httptools.HttpRequestParser(self)  # let go of the part of the head the parser holds
        self.headers = []
        self.url = b""
        if self.transport.is_closing():
            return
        self.logger.warning("Refused a request: %s.", self._refusal)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined head behind a response still being sent: no 431 in its middle
            return
        msg = f"Request header fields too large: {self._refusal}.".encode("ascii")
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: " + str(len(msg)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", msg])
        self.transport.write(b"".join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()  # response then FIN; keep reading (and dropping) for a moment
            self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:  # pragma: no cover - TLS transports cannot half-close
            self.transport.close()


def bounded_http_protocol(max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
                          max_headers: int = DEFAULT_MAX_HEADERS) -> type[BoundedHttpToolsProtocol]:
    """A protocol class with these limits, for `uvicorn.Config(http=...)`."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,),
                {"max_header_bytes": max_header_bytes, "max_headers": max_headers,
                 "__module__": __name__})
