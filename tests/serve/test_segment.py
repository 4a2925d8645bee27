"""POST /segment and GET /stream/ on an off-chain server, with a client that acts as a go-livepeer
gateway: an auth token from GetOrchestrator, SegData and an empty Livepeer-Payment in the
headers, the segment as the body (protocol.md §4.1, §4.2, §2.4)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator

import av
import httpx
import pytest
from eth_utils import keccak

from lpengine.net import lp_rpc_pb2 as pb
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
