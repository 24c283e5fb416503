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
def _one_thread():
    """One intra-op thread: the tests' convolutions are tiny, and on 2 cores shared with other jobs two OpenMP
    threads ran up to 10x slower than one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """A tiny generated dataset (8 train and 4 val images) in the embedded layout; read-only for tests."""
    from occlusion.synthetic import SyntheticConfig, generate_dataset

    root = tmp_path_factory.mktemp("embedded_data") / "embedded"
    generate_dataset(root, SyntheticConfig(train_images=8, val_images=4), progress=False)
    return root
