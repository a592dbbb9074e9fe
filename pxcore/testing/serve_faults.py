"""Misbehaving clients for ``px serve`` (pxcore.serve), on plain sockets so that they
can do what HTTP libraries will not: leave halfway through an upload, send broken
multipart bodies, push bodies past the size limit from many connections at once.
``tests/test_serve_faults.py`` and ``bench/serve.py`` both run them. Every socket has a
timeout and every loop a count: none of them can hang.

Each returns what it saw (statuses, or how the connection ended) so the caller can
check the server answered as it should; that the server is still up and its workers
are free is the caller's to check afterwards (a normal request, answered correctly).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SOCKET_TIMEOUT_S = 30.0
BOUNDARY = "pxcore-fault-boundary"


def multipart(files: list[tuple[str, bytes]], boundary: str = BOUNDARY) -> bytes:
    """A well-formed multipart/form-data body of ``images`` files."""
    parts = [(f"--{boundary}\r\nContent-Disposition: form-data; name=\"images\"; filename=\"{name}\"\r\n"
              "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
             for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def _head(path: str, port: int, content_type: str, length: int | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {content_type}",
             "Connection: close"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> tuple[int | None, bytes]:
    """The response's status and body (read to the end, bounded by the timeout), or
    None where the connection ended without one."""
    data = b""
    try:
        while len(data) < 1 << 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionError, TimeoutError, OSError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    return int(data[9:12]), data.partition(b"\r\n\r\n")[2]


def post_raw(port: int, path: str, content_type: str, body: bytes,
             host: str = "127.0.0.1") -> tuple[int | None, bytes]:
    """Send ``body`` as it is (however malformed) and return (status, response body)."""
    with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(_head(path, port, content_type, len(body)) + body)
        return _status(sock)


def malformed_multipart(image: bytes) -> dict[str, tuple[str, bytes]]:
    """Broken multipart requests, by what is wrong with each: name -> (Content-Type, body).
    Each should get a 400 (not a 500, and no worker time)."""
    good = multipart([("a.png", image)])
    ct = f"multipart/form-data; boundary={BOUNDARY}"
    return {
        "no boundary in the Content-Type": ("multipart/form-data", good),
        "another boundary than the body's": ("multipart/form-data; boundary=elsewhere", good),
        "cut off before the closing boundary": (ct, good[: len(good) // 2]),
        "part without Content-Disposition": (
            ct, f"--{BOUNDARY}\r\nContent-Type: image/png\r\n\r\n".encode() + image
            + f"\r\n--{BOUNDARY}--\r\n".encode()),
        "header line without a colon": (
            ct, f"--{BOUNDARY}\r\nthis is no header\r\n\r\n".encode() + image + f"\r\n--{BOUNDARY}--\r\n".encode()),
        "not multipart at all": (ct, b"\x00\xff" * 512),
        "closing boundary only (no file)": (ct, f"--{BOUNDARY}--\r\n".encode()),
    }


def disconnect_mid_upload(port: int, path: str, image: bytes, count: int = 10, host: str = "127.0.0.1",
                          declared: int = 4 << 20) -> int:
    """``count`` clients, each declaring a ``declared``-byte multipart upload, sending
    its first part (the file's head) and closing the socket: half with a plain close,
    half with a reset (SO_LINGER 0). Returns how many connected."""
    head = multipart([("a.png", image)])[: max(16, len(image) // 2)]
    connected = 0
    for i in range(count):
        with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
            connected += 1
            sock.sendall(_head(path, port, f"multipart/form-data; boundary={BOUNDARY}", declared) + head)
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            time.sleep(0.01)  # the server has read the head and waits for the rest
    return connected


def leave_before_the_answer(port: int, path: str, body: bytes, content_type: str, count: int = 10,
                            host: str = "127.0.0.1") -> int:
    """``count`` clients that send a whole valid request and close before the answer
    (their requests are queued or in a batch when they go). Returns how many sent."""
    sent = 0
    for _ in range(count):
        with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
            sock.sendall(_head(path, port, content_type, len(body)) + body)
            sent += 1
    return sent


def oversized_uploads(port: int, path: str, size: int, count: int = 50, host: str = "127.0.0.1",
                      chunk: int = 64 << 10) -> list[str]:
    """``count`` concurrent clients each uploading ``size`` bytes of multipart (over the
    server's limit): even-numbered declare their length, odd-numbered send it chunked
    (no length: the limit must apply as the bytes arrive). Returns each one's outcome:
    "413", another status, or how its connection ended ("closed", "reset") when the
    server stopped reading before the client had sent everything and no answer came."""
    start = threading.Barrier(count, timeout=SOCKET_TIMEOUT_S)
    payload = b"\x89PNG" + bytes(size)

    def one(i: int) -> str:
        body = multipart([(f"big{i}.png", payload)])
        chunked = i % 2 == 1
        try:
            with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
                start.wait()
                sock.sendall(_head(path, port, f"multipart/form-data; boundary={BOUNDARY}",
                                   None if chunked else len(body)))
                try:
                    for at in range(0, len(body), chunk):
                        piece = body[at:at + chunk]
                        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    if chunked:
                        sock.sendall(b"0\r\n\r\n")
                except (ConnectionError, TimeoutError, OSError):
                    pass  # the server answered and stopped reading: read its answer
                status, _ = _status(sock)
                return str(status) if status is not None else "closed"
        except ConnectionResetError:
            return "reset"
        except (threading.BrokenBarrierError, TimeoutError, OSError) as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count), timeout=SOCKET_TIMEOUT_S * 3))
