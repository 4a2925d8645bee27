"""image-to-video (capability 29): diffusers' StableVideoDiffusionPipeline (ai-api.md §2.3; the
runner's stabilityai/stable-video-diffusion-img2vid-xt), answered as an orchestrator answers:
the 25 frames encoded into one MP4 (H.264, 6000 kbps, `fps` frames per second) in an
ImageResponse whose `url` is a `data:video/mp4` URL with the seed.

`nsfw` is the safety checker's verdict on the input image (as the runner's: the frames are not
checked), false when the request's `safety_check` is false.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from lpengine.ai.errors import AIError
from lpengine.ai.images import decode_image, image_size
from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Prepared, seeds
from lpengine.capabilities import Capability

FRAMES = 25  # the pricing unit's multiplier (ai-api.md §7), what img2vid-xt makes
DECODE_CHUNK = 4  # frames the VAE decodes at once (the runner's)
BIT_RATE = 6_000_000
MAX_FPS = 60


class ImageToVideo(d.DiffusersPipeline):
    name = "image-to-video"
    capability = Capability.IMAGE_TO_VIDEO
    batchable = False
    loader = "StableVideoDiffusionPipeline"

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        width, height = params["width"], params["height"]
        d.check_size(width, height)
        image_size(params["image"])  # PNG, JPEG or GIF (the O reads only the header)
        image = decode_image(params["image"])
        if not 1 <= params["fps"] <= MAX_FPS:
            raise AIError(400, f"fps: expected 1..{MAX_FPS}, got {params['fps']}")
        if not 0 <= params["noise_aug_strength"] <= 1:
            raise AIError(
                400, f"noise_aug_strength: expected 0..1, got {params['noise_aug_strength']}"
            )
        (seed,) = seeds(params["seed"], 1)
        inputs = {
            "image": image, "seed": seed, "width": width, "height": height, "fps": params["fps"],
            "motion": params["motion_bucket_id"], "noise": params["noise_aug_strength"],
            "steps": d.inference_steps(params), "safety_check": params["safety_check"],
        }  # fmt: skip
        # NOTE: never batched (batchable = False): a video is a batch of 25 frames already.
        return Prepared(width * height * FRAMES, (Item(object(), inputs),))

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        return [self._video(item.inputs) for item in items]

    def _video(self, p: dict[str, Any]) -> tuple[bytes, int, bool]:
        kwargs: dict[str, Any] = {
            "height": p["height"], "width": p["width"], "fps": p["fps"],
            "motion_bucket_id": p["motion"], "noise_aug_strength": p["noise"],
            "decode_chunk_size": DECODE_CHUNK,
        }  # fmt: skip
        if p["steps"] is not None:
            kwargs["num_inference_steps"] = p["steps"]
        # NOTE: the input image is checked, before the video is made (ai-runner's order).
        checked = [bool(p["safety_check"])]
        (nsfw,) = self.safety.flags([p["image"]], checked) if self.safety is not None else [False]
        (generator,) = d.generators(self.device, [p["seed"]])
        # NOTE: "pt" keeps the frames on the device; lpengine's op converts them to yuv420p
        # there and only the 4:2:0 planes (half of RGB's bytes) cross to the host.
        out = self.pipe(p["image"], generator=generator, output_type="pt", **kwargs)
        return mp4(rgb_frames(out.frames[0]), p["fps"]), p["seed"], nsfw

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        """An ImageResponse whose one `url` is the MP4 (the other diffusers answer PNGs)."""
        ((video, seed, nsfw),) = results
        url = "data:video/mp4;base64," + base64.b64encode(video).decode("ascii")
        return {"images": [{"url": url, "seed": seed, "nsfw": nsfw}]}


def rgb_frames(frames: Any) -> Any:
    """frames: [F, 3, H, W] float in [0, 1] (diffusers' "pt" output), any device -> [F, H, W, 3]
    uint8, same device, rounded as diffusers' PIL output is ((x * 255).round(), in float32)."""
    import torch

    rgb = (frames.float() * 255).round().clamp(0, 255).to(torch.uint8)
    return rgb.permute(0, 2, 3, 1).contiguous()


def yuv420p(rgb: Any) -> Any:
    """rgb: [H, W, 3] uint8 torch tensor, host or CUDA -> [H * 3 / 2, W] uint8 numpy (host).

    BT.601 limited range, as swscale converted PyAV's RGB frames before: the luma is the same
    to 1 code value; chroma is each 2x2 block's average (swscale filters it differently, so on
    noise it differs by up to ~25, on smooth images by 1)."""
    import torch

    from lpengine import ops

    h, w = int(rgb.shape[0]), int(rgb.shape[1])
    if rgb.is_cuda:
        out = torch.empty((h * 3 // 2, w), dtype=torch.uint8, device=rgb.device)
        ops.rgb_to_yuv(rgb, matrix="bt601", out=out)
        return out.cpu().numpy()
    return ops.rgb_to_yuv(rgb.numpy(), matrix="bt601")


def mp4(frames: Any, fps: int) -> bytes:
    """frames: [F, H, W, 3] uint8 torch tensor (host or CUDA) -> an H.264 MP4 (yuv420p), in
    memory."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = int(frames.shape[1]), int(frames.shape[2])
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = BIT_RATE
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(yuv420p(rgb), format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
