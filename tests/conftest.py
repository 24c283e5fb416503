"""Shared fixtures. Real COCO/MPII samples are read from ``../shared/data`` beside the checkout, never copied."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OCCLUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
END_TO_END = ("test_paper_profile_runs_every_stage_on_real_files", "test_smoke_profile_runs_every_stage_end_to_end")
"""The two `dvc repro` runs, each several minutes: scheduled first, one per worker under `tasks.py test`'s
``pytest -n auto --dist loadgroup`` (each test its own work unit, handed out in collection order)."""

if os.environ.get("PYTEST_XDIST_WORKER"):  # workers share the cores: one OpenMP thread in the stages they start too
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The :data:`END_TO_END` runs first, so that under xdist they start together and the rest fills in around them."""
    first = [item for name in END_TO_END for item in items if item.name == name]
    items[:] = first + [item for item in items if item not in first]


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


def copy_project(dst: Path, profile: str | None = None) -> Path:
    """The project's files (tracked, and untracked but not ignored; no data, runs or results) copied into ``dst``,
    made a git repository; with ``profile``, ``params.yaml`` is ``profiles/<profile>.yaml`` and ``dvc.yaml`` is
    regenerated for it."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file() and not rel.startswith(("data/", "runs/", "results/", "reports/", "dvc.lock")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst / rel)
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    if profile is not None:
        shutil.copy(REPO / "profiles" / f"{profile}.yaml", dst / "params.yaml")
        subprocess.run([sys.executable, "-m", "occlusion.dvcfile"], cwd=dst, check=True, capture_output=True)
    return dst
