"""Listen addresses and URLs as operators write them in flags."""

from __future__ import annotations

from urllib.parse import urlsplit


def host_port(value: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' or ':port' (all interfaces) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {value!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def http_addr(value: str) -> tuple[str, str, int]:
    """-httpAddr: 'host:port' or 'https://host:port' (TLS) or 'http://host:port' (plaintext)
    -> (scheme, host, port). A path is refused, as go refuses it."""
    url = value if "://" in value else f"https://{value}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"expected http:// or https://, got {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"expected [http://|https://]host:port without a path, got {value!r}")
    host, port = host_port(parts.netloc)
    return parts.scheme, host, port


def eth_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"expected an http(s):// or ws(s):// JSON-RPC URL, got {value!r}")
    return value
