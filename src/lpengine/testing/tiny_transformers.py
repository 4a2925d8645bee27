"""Tiny random-weight transformers models (BLIP captioning, a Llama causal LM) with tokenizers
whose vocabularies are written here, saved as the real repos lay out their files."""

from __future__ import annotations

import importlib
import json
import string
from pathlib import Path
from typing import Any

_SEED = 2
_CHARS = string.ascii_lowercase + string.digits


def _transformers() -> Any:
    return importlib.import_module("transformers")


def write_tiny_blip(snapshot: Path) -> None:
    """BlipForConditionalGeneration over 32x32 images, a BERT word-piece tokenizer over single
    characters with BLIP's `[DEC]` bos, and the preprocessor_config.json BLIP repos carry."""
    import torch

    t = _transformers()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *_CHARS,
             *("##" + c for c in _CHARS), *".,!?'"]  # fmt: skip
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = t.BertTokenizer.from_pretrained(str(snapshot), bos_token="[DEC]")
    torch.manual_seed(_SEED)
    config = t.BlipConfig(
        text_config={
            "vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 37,
            "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64,
            "bos_token_id": tokenizer.bos_token_id, "pad_token_id": tokenizer.pad_token_id,
            "sep_token_id": tokenizer.sep_token_id, "eos_token_id": tokenizer.sep_token_id,
        },
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )  # fmt: skip
    t.BlipForConditionalGeneration(config).save_pretrained(str(snapshot))
    tokenizer.save_pretrained(str(snapshot))
    preprocessor = {
        "do_resize": True, "size": {"height": 32, "width": 32}, "resample": 3,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "BlipImageProcessor", "processor_class": "BlipProcessor",
    }  # fmt: skip
    (snapshot / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))


def write_tiny_llm(snapshot: Path) -> None:
    """LlamaForCausalLM with a byte-level BPE tokenizer over characters and a chat template
    (Llama 3's layout of headers), as instruct models ship."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    t = _transformers()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>"]  # fmt: skip
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(sorted(alphabet))}
    for tok in specials:
        vocab[tok] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    template = (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
        "<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    tokenizer = t.PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=specials[0], eos_token=specials[4],
        pad_token=specials[1], additional_special_tokens=specials[2:4], chat_template=template,
    )  # fmt: skip
    torch.manual_seed(_SEED + 1)
    config = t.LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=vocab[specials[0]], eos_token_id=vocab[specials[4]],
        pad_token_id=vocab[specials[1]], tie_word_embeddings=True,
    )  # fmt: skip
    snapshot.mkdir(parents=True, exist_ok=True)
    t.LlamaForCausalLM(config).save_pretrained(str(snapshot))
    tokenizer.save_pretrained(str(snapshot))


def write_tiny_sam2(snapshot: Path) -> None:
    """Sam2Model (Hiera backbone, prompt encoder, mask decoder) on 128x128 inputs: low-res masks
    are 32x32, as sam2-hiera-large's are 256x256 for 1024x1024."""
    import torch

    t = _transformers()
    side = 128
    backbone = t.Sam2HieraDetConfig(
        hidden_size=16, num_attention_heads=1, image_size=[side, side],
        blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[16, 32, 64, 128],
        num_attention_heads_per_stage=[1, 1, 2, 2], window_size_per_stage=[4, 4, 4, 4],
        global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2],
    )  # fmt: skip
    vision = t.Sam2VisionConfig(
        backbone_config=backbone, backbone_channel_list=[128, 64, 32, 16], fpn_hidden_size=32,
        backbone_feature_sizes=[[side // 4] * 2, [side // 8] * 2, [side // 16] * 2],
    )  # fmt: skip
    config = t.Sam2Config(
        vision_config=vision,
        prompt_encoder_config=t.Sam2PromptEncoderConfig(
            hidden_size=32, image_size=side, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=t.Sam2MaskDecoderConfig(
            hidden_size=32, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=32
        ),
    )
    torch.manual_seed(_SEED + 2)
    snapshot.mkdir(parents=True, exist_ok=True)
    t.Sam2Model(config).save_pretrained(str(snapshot))


def write_tiny_vits(snapshot: Path) -> None:
    """VitsModel (text encoder, flows, stochastic duration predictor, HiFi-GAN decoder) at
    16 kHz with a character VitsTokenizer, as the MMS voices ship."""
    import torch

    t = _transformers()
    chars = ["<pad>", " ", *_CHARS, *".,!?'-"]
    snapshot.mkdir(parents=True, exist_ok=True)
    vocab = snapshot / "vocab.json"
    vocab.write_text(json.dumps({c: i for i, c in enumerate(chars)}), encoding="utf-8")
    tokenizer = t.VitsTokenizer(vocab_file=str(vocab), add_blank=True, normalize=True,
                                phonemize=False)  # fmt: skip
    torch.manual_seed(_SEED + 3)
    config = t.VitsConfig(
        vocab_size=len(chars), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        ffn_dim=32, flow_size=16, spectrogram_bins=33, upsample_initial_channel=32,
        upsample_rates=[8, 8], upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]], prior_encoder_num_flows=2,
        prior_encoder_num_wavenet_layers=2, posterior_encoder_num_wavenet_layers=2,
        duration_predictor_num_flows=2, duration_predictor_filter_channels=16,
        depth_separable_num_layers=2, sampling_rate=16_000,
    )  # fmt: skip
    t.VitsModel(config).save_pretrained(str(snapshot))
    tokenizer.save_pretrained(str(snapshot))


def write_tiny_safety_checker(snapshot: Path, threshold: float = 1.0) -> None:
    """diffusers' StableDiffusionSafetyChecker over a 2-layer CLIP vision tower (32 px, 8 px
    patches) with random concept embeddings, and the preprocessor_config.json that
    CompVis/stable-diffusion-safety-checker carries. An image is flagged when its cosine
    similarity to a concept passes `threshold`: 1.0 (the default) flags nothing, -1.0 everything.
    """
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    t = _transformers()
    torch.manual_seed(_SEED + 5)
    config = t.CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                     "num_hidden_layers": 1, "vocab_size": 99, "bos_token_id": 0,
                     "eos_token_id": 2},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )  # fmt: skip
    checker: Any = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds.normal_()
        checker.special_care_embeds.normal_()
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(threshold)
    checker.save_pretrained(str(snapshot))
    # NOTE: the PIL class writes what CLIPImageProcessor writes, without its torchvision warning.
    processor = getattr(t, "CLIPImageProcessorPil", None) or t.CLIPImageProcessor
    crop = {"height": 32, "width": 32}
    processor(size={"shortest_edge": 32}, crop_size=crop).save_pretrained(str(snapshot))
