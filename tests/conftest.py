"""Shared fixtures. Real COCO/MPII samples are read from ``../shared/data`` beside the checkout, never copied."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OCCLUSION_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (coco_mini, mpii_sample); the test is skipped with a reason where it is absent."""
    if not (SHARED_DATA / "coco_mini").is_dir():
        pytest.skip(f"real COCO/MPII samples not found at {SHARED_DATA} (set OCCLUSION_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
