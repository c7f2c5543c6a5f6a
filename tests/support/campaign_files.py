"""Campaign files as the campaign tests write them, and the environment their runs see."""

from __future__ import annotations

from pathlib import Path

from conftest import reference_path

ENV = {"TINY_RUNNER_MODEL_DIR": str(reference_path())}


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "campaign.toml"
    path.write_text(text)
    return path
