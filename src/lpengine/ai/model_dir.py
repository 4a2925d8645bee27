"""Model folders in Hugging Face cache layout under the models dir (ai-api.md §6).

`<root>/models--<org>--<name>/refs/main` names the revision whose files are in
`snapshots/<revision>/`; a folder without refs/main is used when it has exactly one snapshot.
Nothing is ever downloaded: a model that is not there is an error naming the folder.
"""

from __future__ import annotations

from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


class ModelNotFound(Exception):
    pass


def repo_dir(root: Path, model_id: str) -> Path:
    return root / f"models--{model_id.replace('/', '--')}"


def snapshot_dir(root: Path, model_id: str) -> Path:
    """The folder holding `model_id`'s files; raises ModelNotFound naming what is missing."""
    repo = repo_dir(root, model_id)
    ref = repo / "refs" / "main"
    if ref.is_file():
        snapshot = repo / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if snapshot.is_dir():
            return snapshot
        raise ModelNotFound(f"{ref} names a revision missing under {repo / 'snapshots'}")
    snapshots = sorted(p for p in (repo / "snapshots").glob("*") if p.is_dir())
    if len(snapshots) == 1:
        return snapshots[0]
    if not snapshots:
        raise ModelNotFound(f"model {model_id!r} is not in {root} (no {repo.name}/snapshots/)")
    raise ModelNotFound(f"{repo} has {len(snapshots)} snapshots and no refs/main to choose one")


def snapshot_origin(snapshot: Path) -> tuple[Path, str]:
    """(models dir, model id) of a folder that `snapshot_dir` answered, read back from its
    path: `<root>/models--<org>--<name>/snapshots/<revision>`."""
    repo = snapshot.parent.parent
    return repo.parent, repo.name.removeprefix("models--").replace("--", "/")


def weights_bytes(folder: Path) -> int:
    """The size of the weight files under `folder`: what loading it will take, roughly."""
    return sum(
        p.stat().st_size for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()
    )
