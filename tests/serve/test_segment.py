"""POST /segment and GET /stream/ on an off-chain server, with a client that acts as a go-livepeer
gateway: an auth token from GetOrchestrator, SegData and an empty Livepeer-Payment in the
headers, the segment as the body (protocol.md §4.1, §4.2, §2.4)."""

from __future__ import annotations

import base64
import http.server
import io
import os
import threading
from collections.abc import Iterator

import av
import httpx
import pytest
from eth_utils import keccak

from lpengine.net import lp_rpc_pb2 as pb
from lpengine.serve.segment_route import URI_BODY
from tests.helpers import ServerProcess, unary
from tests.media.conftest import FPS, SECONDS, make_segment

pytestmark = pytest.mark.net

# (profile, expected frames): a passthrough-rate MPEG-TS and a 15 fps MP4 rendition.
LADDER = [
    (pb.VideoProfile(name="P144p30fps16x9", width=256, height=144, bitrate=400_000), FPS * SECONDS),
    (
        pb.VideoProfile(name="low", width=160, height=96, bitrate=200_000, fps=15, format=1),
        15 * SECONDS,
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture(scope="module")
def clip() -> bytes:
    return make_segment()


@pytest.fixture
def token(server: ServerProcess) -> pb.AuthToken:
    with server.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        )
    return info.auth_token


def seg_header(token: pb.AuthToken | None, body: bytes, seq: int = 1, **fields: object) -> str:
    seg = pb.SegData(manifestId=b"stream-1", seq=seq, hash=keccak(body), **fields)  # type: ignore[arg-type]
    if "fullProfiles3" not in fields:
        seg.fullProfiles3.extend(p for p, _ in LADDER)
    if token is not None:
        seg.auth_token.CopyFrom(token)
    return base64.b64encode(seg.SerializeToString()).decode()


def post(server: ServerProcess, seg: str, body: bytes) -> httpx.Response:
    headers = {"Livepeer-Payment": "", "Livepeer-Segment": seg, "Content-Type": "video/MP2T"}
    return httpx.post(
        f"{server.url}/segment", headers=headers, content=body, verify=False, timeout=60
    )


def decode(data: bytes) -> tuple[int, int, int]:
    """(width, height, frames) of a rendition."""
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(video=0))
    return frames[0].width, frames[0].height, len(frames)


def test_a_segment_comes_back_as_renditions(server, token, clip):
    r = post(server, seg_header(token, clip, seq=7), clip)
    assert r.status_code == 200, r.text
    result = pb.TranscodeResult.FromString(r.content)
    assert result.WhichOneof("result") == "data", result.error
    assert result.seq == 7
    assert result.info.auth_token == token  # the original token
    assert result.data.sig == b""  # off-chain go signs with an empty signature
    assert len(result.data.segments) == len(LADDER)
    for (profile, frames), out in zip(LADDER, result.data.segments, strict=True):
        ext = ".mp4" if profile.format == 1 else ".ts"
        assert out.url == f"{server.url}/stream/{token.session_id}/{profile.name}/7{ext}"
        got = httpx.get(out.url, verify=False)
        assert got.status_code == 200
        assert got.headers["content-type"] == ("video/mp4" if ext == ".mp4" else "video/mp2t")
        assert decode(got.content) == (profile.width, profile.height, frames)
        assert out.pixels == profile.width * profile.height * frames


def test_a_body_that_is_not_the_hashed_one_is_forbidden(server, token, clip):
    r = post(server, seg_header(token, clip + b"x"), clip)
    assert (r.status_code, r.text) == (403, "Forbidden\n")


def test_header_refusals(server, token, clip):
    cases = [
        (seg_header(None, clip), "missing auth token\n"),
        (seg_header(token, clip, duration=300_001), "invalid duration\n"),
        (
            seg_header(token, clip, fullProfiles3=[pb.VideoProfile(width=2, height=2, format=7)]),
            "unrecognized profile output format\n",
        ),
    ]
    for seg, text in cases:
        r = post(server, seg, clip)
        assert (r.status_code, r.text) == (403, text)


def test_a_bad_segment_fails_inside_the_result_and_the_next_one_works(server, token, clip):
    junk = os.urandom(4096)
    r = post(server, seg_header(token, junk, seq=2), junk)
    assert r.status_code == 200
    result = pb.TranscodeResult.FromString(r.content)
    assert result.WhichOneof("result") == "error" and result.error
    assert result.seq == 2 and result.info.auth_token == token
    r = post(server, seg_header(token, clip, seq=3), clip)
    result = pb.TranscodeResult.FromString(r.content)
    assert result.WhichOneof("result") == "data", result.error


def test_a_profile_no_encoder_takes_fails_inside_the_result(server, token, clip):
    odd = pb.VideoProfile(name="odd", width=255, height=144)
    r = post(server, seg_header(token, clip, seq=4, fullProfiles3=[odd]), clip)
    assert r.status_code == 200
    result = pb.TranscodeResult.FromString(r.content)
    assert result.error == "profile 'odd': width: expected an even size in [2, 8192], got 255"


def test_stream_is_404_for_what_was_never_stored(server, token):
    r = httpx.get(f"{server.url}/stream/{token.session_id}/none/1.ts", verify=False)
    assert r.status_code == 404


@pytest.fixture(scope="module")
def origin(clip: bytes) -> Iterator[str]:
    """A plain HTTP server holding the clip at /seg.ts (a gateway's object store)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/seg.ts":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(clip)))
            self.end_headers()
            self.wfile.write(clip)

        def log_message(self, *_: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()
    httpd.server_close()


def post_uri(server: ServerProcess, seg: str, uri: str) -> httpx.Response:
    headers = {"Livepeer-Payment": "", "Livepeer-Segment": seg, "Content-Type": URI_BODY}
    return httpx.post(f"{server.url}/segment", headers=headers, content=uri, verify=False)


def test_a_segment_sent_by_url_is_downloaded_and_its_hash_checked(server, token, clip, origin):
    r = post_uri(server, seg_header(token, clip, seq=20), f"{origin}/seg.ts")
    assert r.status_code == 200, r.text
    result = pb.TranscodeResult.FromString(r.content)
    assert result.WhichOneof("result") == "data", result.error
    got = httpx.get(result.data.segments[0].url, verify=False)
    assert decode(got.content) == (256, 144, FPS * SECONDS)
    # The hash is the downloaded bytes', not the URL's.
    r = post_uri(server, seg_header(token, b"other", seq=21), f"{origin}/seg.ts")
    assert (r.status_code, r.text) == (403, "Forbidden\n")


@pytest.mark.parametrize("uri", ["/seg.ts?missing", "ftp://127.0.0.1/seg.ts", "not a url"])
def test_a_segment_url_that_cannot_be_had_is_a_bad_request(server, token, clip, origin, uri):
    uri = f"{origin}/nothing.ts" if uri.startswith("/") else uri
    r = post_uri(server, seg_header(token, clip, seq=22), uri)
    assert (r.status_code, r.text) == (400, "BadRequest\n")


def _first_last_pts(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        pts = sorted(f.pts for f in container.decode(video=0))
    return pts[0], pts[-1], len(pts)


def test_a_session_keeps_timestamps_continuous_and_clips(server, clip):
    """The clip's timestamps restart at 0 in every post (as after a source restart): the
    session's renditions carry on from where the last one ended, at any output rate.

    NOTE: the first segment of a stream that starts at time 0 is shifted by the muxer (by the
    encoder's B-frame delay, so that no DTS is negative), hence the comparison of 2nd and 3rd."""
    with server.grpc_channel() as channel:
        token = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        ).auth_token
    spans = []
    for seq in (30, 31, 32):
        r = post(server, seg_header(token, clip, seq), clip)
        result = pb.TranscodeResult.FromString(r.content)
        assert result.WhichOneof("result") == "data", result.error
        urls = [s.url for s in result.data.segments]
        spans.append([_first_last_pts(httpx.get(u, verify=False).content) for u in urls])
    for i, (_, frames) in enumerate(LADDER):
        (first1, last1, n1), (first2, last2, n2) = spans[1][i], spans[2][i]
        assert n1 == n2 == frames
        step = (last1 - first1) // (frames - 1)
        assert first2 == last1 + step and last2 - first2 == last1 - first1, (i, spans)
    clipped = seg_header(token, clip, seq=33, segment_parameters=pb.SegParameters(to=1000))
    result = pb.TranscodeResult.FromString(post(server, clipped, clip).content)
    assert result.WhichOneof("result") == "data", result.error
    for (profile, frames), out in zip(LADDER, result.data.segments, strict=True):
        assert out.pixels == profile.width * profile.height * frames // SECONDS
