"""Progress bars stay quiet off a terminal: an executed notebook keeps a few lines a minute, not one per step."""
from __future__ import annotations

import io
import time

import pytest
from tqdm import tqdm

from occlusion.progress import OFF_TERMINAL_INTERVAL, progress_bar


def _draws(make) -> int:
    out = io.StringIO()
    bar = make(out)
    for _ in range(40):
        time.sleep(0.025)  # a second of steps
        bar.update(1)
    bar.close()
    return out.getvalue().count("\r")


def test_off_a_terminal_the_bar_draws_at_its_start_and_end_only():
    assert OFF_TERMINAL_INTERVAL >= 10
    assert _draws(lambda out: tqdm(total=40, file=out)) >= 5  # tqdm's own default: ten draws a second
    assert _draws(lambda out: progress_bar(total=40, file=out)) <= 3


def test_update_says_when_it_drew():
    bar = progress_bar(total=10, file=io.StringIO(), mininterval=0)
    assert bar.update(1) is True
    quiet = progress_bar(total=10, file=io.StringIO())
    assert not any(quiet.update(1) for _ in range(9))  # what the training loop reads before computing the loss
    assert progress_bar(total=1, disable=True).update(1) is None


_TRAINING_CELL = '''
import torch
from pathlib import Path
from occlusion.runtime import Checkpoint, Dist, Job, fit

class Points(torch.utils.data.Dataset):
    def __len__(self):
        return 1500
    def __getitem__(self, i):
        return {"image": torch.full((4,), float(i % 7)), "target": torch.tensor([float(i % 3)])}
    def set_epoch(self, epoch):
        pass

class Recipe:
    epochs, lr, milestones, gamma, legacy_scheduler_order = 3, 0.01, (), 0.1, False
    batch_size, workers, max_iters_per_epoch = 1, 0, 0

def step(net, batch):
    return {"loss": torch.nn.functional.mse_loss(net(batch["image"]), batch["target"])}

model = torch.nn.Linear(4, 1)
out = Path(out_dir)
ckpt = Checkpoint(out / "ckpt", "notebook-size", {}, Dist())
job = Job("tiny", model, torch.optim.Adam(model.parameters()), Points(), step, ("loss",), 0, ckpt, out,
          torch.device("cpu"), Dist())
log = fit(job, Recipe())
print(len(log), "epochs")
'''


@pytest.mark.slow
def test_training_notebook_stays_small_under_papermill(tmp_path):
    """4,500 training iterations (3 epochs of 1,500) executed by papermill, as a DVC stage runs its notebook: the
    executed notebook stays small (one progress line per redraw, not per step) and has no ipywidgets warning."""
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("out_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(_TRAINING_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, executed = tmp_path / "train.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(executed), parameters={"out_dir": str(tmp_path / "run")},
                               progress_bar=False, cwd=str(tmp_path))
    text = executed.read_text()
    assert "3 epochs" in text and (tmp_path / "run" / "train_log.csv").is_file()
    assert "IProgress" not in text
    assert executed.stat().st_size < 200_000, executed.stat().st_size
    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    assert sum(o.get("text", "").count("\r") for o in outputs) <= 12  # a few redraws per epoch at most
