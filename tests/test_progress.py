"""Progress bars stay quiet off a terminal: an executed notebook keeps a few lines a minute, not one per step."""
from __future__ import annotations

import io
import time

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
