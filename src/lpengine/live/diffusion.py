"""A live image-to-image diffusion pipeline in the StreamDiffusion manner (ai-api.md §9.9).

`StreamDiffusionModel` is loaded once from a local Stable Diffusion folder with diffusers (UNet,
VAE, text encoder and scheduler of the folder's `StableDiffusionImg2ImgPipeline`) and shared by
every stream of that model; each stream's `StreamDiffusionPipeline` holds only its own params,
noise and frames in flight. Every param is applied in place; the one change that reloads is
another `model_id` (a stream switching models, `lpengine.live.reload`), since all else is per
stream and cheap to redo (ai-runner reloads for ControlNets, IP-Adapter or TensorRT engines,
none of which this pipeline has):

- few denoising steps (`num_inference_steps`, 1-4) picked from a 50-step schedule, starting
  where `strength` says (as img2img starts), with a deterministic DDIM update (eta 0);
- prompt embeddings computed once per prompt and cached; no classifier-free guidance, so one
  UNet pass per step;
- a batch of frames in flight (StreamDiffusion's stream batch): each call runs the UNet once
  over the newest frame at the first step and the older frames at their later steps together,
  so a frame comes out `steps - 1` calls after it went in (until then the input is echoed);
- `prompt`, `strength`, `num_inference_steps` and `seed` updates are applied in place: new
  embeddings, new timesteps, new fixed noise (re-drawn from the seed, shared by every frame so
  that consecutive frames stay alike).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lpengine.live.pipelines import Frames, base_size

MAX_STEPS = 4
SCHEDULE_STEPS = 50  # the schedule the few steps are picked from
DEFAULTS: dict[str, Any] = {
    "prompt": "",
    "strength": 0.5,
    "num_inference_steps": 2,
    "seed": 42,
}


def check_params(params: Mapping[str, Any], current: tuple[int, int] | None) -> dict[str, Any]:
    """The full params (defaults filled in), or ValueError naming the bad one."""
    base_size(params, current)
    out = {**DEFAULTS, **params}
    if not isinstance(out["prompt"], str):
        raise ValueError(f"prompt: expected a string, got {out['prompt']!r}")
    strength = out["strength"]
    if isinstance(strength, bool) or not isinstance(strength, int | float):
        raise ValueError(f"strength: expected a number, got {strength!r}")
    if not 0 < strength <= 1:
        raise ValueError(f"strength: expected > 0 and <= 1, got {strength}")
    steps = out["num_inference_steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"num_inference_steps: expected an integer 1-{MAX_STEPS}, got {steps!r}")
    seed = out["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected an integer 0 to 2^63 - 1, got {seed!r}")
    return out


class StreamDiffusionModel:
    """The weights and what streams of one model can share: loaded once (seconds to minutes:
    never on the event loop), then used by every stream's pipeline at once."""

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        import torch
        from diffusers import StableDiffusionImg2ImgPipeline

        from lpengine.ai.pipelines.diffusion import load_diffusers

        self.device = device
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        self.pipe = load_diffusers(StableDiffusionImg2ImgPipeline, Path(folder), device, dtype)
        self.dtype = self.pipe.unet.dtype
        self.scale = float(self.pipe.vae.config.scaling_factor)
        self.prediction = self.pipe.scheduler.config.get("prediction_type", "epsilon")
        if self.prediction not in ("epsilon", "v_prediction"):
            raise ValueError(f"model: prediction type {self.prediction!r} is not supported")
        self.alphas = self.pipe.scheduler.alphas_cumprod.to(device=device, dtype=torch.float32)
        self.embeddings: dict[str, Any] = {}  # prompt -> (1, tokens, dim)
        # NOTE: the tokenizer and the scheduler's set_timesteps keep state: one stream at a time.
        self._lock = threading.Lock()

    def embed(self, prompt: str) -> Any:
        """The prompt's text embeddings, (1, tokens, dim), computed once per prompt."""
        with self._lock:
            if prompt not in self.embeddings:
                import torch

                with torch.inference_mode():
                    embeds, _ = self.pipe.encode_prompt(prompt, self.device, 1, False)
                self.embeddings[prompt] = embeds
            return self.embeddings[prompt]

    def schedule(self, strength: float, steps: int) -> list[int]:
        """`steps` timesteps of a SCHEDULE_STEPS schedule, evenly spaced from the point
        `strength` selects (img2img's start: strength 1 is pure noise) towards the clean end,
        which the last step jumps to (StreamDiffusion's `t_index_list`)."""
        with self._lock:
            scheduler = self.pipe.scheduler
            scheduler.set_timesteps(SCHEDULE_STEPS)
            start = min(SCHEDULE_STEPS - 1, int(SCHEDULE_STEPS * (1 - strength)))
            picks = np.linspace(start, SCHEDULE_STEPS, steps + 1)[:-1]
            return [int(scheduler.timesteps[int(i)]) for i in picks]

    def latent_size(self, width: int, height: int) -> tuple[int, int]:
        factor = 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)
        return height // factor, width // factor


class StreamDiffusionPipeline:
    """Image-to-image on every frame of one stream; see the module docstring. Made on the event
    loop, so making it only checks the params: the first frame computes the embeddings."""

    name = "streamdiffusion"

    def __init__(self, model: StreamDiffusionModel, params: Mapping[str, Any]) -> None:
        self.model = model
        self.width, self.height = base_size(params, None)
        self.params = check_params(params, None)
        self.device = model.device
        self._dtype = model.dtype
        self._schedule_key: tuple[Any, ...] | None = None
        self._prompt_embeds: Any = None  # set by the first update
        self._in_flight: list[Any] = []  # (1, C, h, w) latents; item i is at step i + 1
        self.unet_calls = 0

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return check_params({**self.params, **params}, (self.width, self.height))

    def update(self, params: dict[str, Any]) -> None:
        """Applies params `validate` returned: no weights are touched."""
        import torch

        full = check_params(params, (self.width, self.height))
        old, self.params = self._schedule_key, full
        self._prompt_embeds = self.model.embed(full["prompt"])
        key = (full["strength"], full["num_inference_steps"], full["seed"])
        if key == old:
            return
        self._schedule_key = key
        self._timesteps = self.model.schedule(full["strength"], full["num_inference_steps"])
        h, w = self.model.latent_size(self.width, self.height)
        gen = torch.Generator("cpu").manual_seed(full["seed"])
        shape = (1, self.model.pipe.unet.config.in_channels, h, w)
        self._noise = torch.randn(shape, generator=gen).to(self.device, self._dtype)
        self._in_flight = []  # NOTE: frames in flight were noised for the old schedule

    def process(self, frames: Frames) -> Frames:
        """frames: (1, H, W, 3) float32 RGB in [0, 1], host memory (numpy) or a torch tensor
        on the model's device -> the same layout, the frame that entered `steps - 1` calls ago
        finished (the input itself until then); on a CUDA device it stays there."""
        import torch

        if self._prompt_embeds is None:
            self.update(self.params)
        pipe, scale = self.model.pipe, self.model.scale
        with torch.inference_mode():
            x = (
                frames
                if isinstance(frames, torch.Tensor)
                else torch.from_numpy(np.ascontiguousarray(frames))
            )
            x = x.to(self.device, self._dtype)
            x = x.permute(0, 3, 1, 2) * 2 - 1
            latents = pipe.vae.encode(x).latent_dist.mean * scale
            t0 = self._timesteps[0]
            noisy = self._alpha(t0).sqrt() * latents + (1 - self._alpha(t0)).sqrt() * self._noise
            batch = self._denoise(torch.cat([noisy, *self._in_flight]))  # item i: step i + 1
            finished = len(batch) == len(self._timesteps)
            self._in_flight = list(batch[:-1].split(1) if finished else batch.split(1))
            if not finished:
                return frames
            done = batch[-1:]
            image = pipe.vae.decode(done / scale).sample
            image = ((image.float() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
            if self.device != "cpu":
                return image.contiguous()  # NOTE: converted to yuv420p on the device
            return np.ascontiguousarray(image.numpy(), dtype=np.float32)

    def _alpha(self, t: int) -> Any:
        return self.model.alphas[t].to(self._dtype)

    def _denoise(self, batch: Any) -> Any:
        """One UNet pass over the batch, item i at the schedule's step i; returns each item
        moved to its next step (the last step's to the clean latents)."""
        import torch

        steps = self._timesteps[: len(batch)]
        t = torch.tensor(steps, device=self.device)
        embeds = self._prompt_embeds.expand(len(batch), -1, -1)
        out = self.model.pipe.unet(batch, t, encoder_hidden_states=embeds).sample
        self.unet_calls += 1
        a = self.model.alphas[t].view(-1, 1, 1, 1).to(self._dtype)
        if self.model.prediction == "epsilon":
            eps = out
            x0 = (batch - (1 - a).sqrt() * eps) / a.sqrt()
        else:  # v_prediction
            x0 = a.sqrt() * batch - (1 - a).sqrt() * out
            eps = a.sqrt() * out + (1 - a).sqrt() * batch
        one = torch.ones(1, device=self.device)
        a_next = torch.cat([self.model.alphas[self._timesteps[1:]], one])[: len(batch)]
        a_next = a_next.view(-1, 1, 1, 1).to(self._dtype)
        return a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
