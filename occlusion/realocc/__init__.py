"""Real occlusion (docs/METHODS.md §13): OCHuman, CrowdPose and COCO's own occluded keypoints, and whether the
paper's synthetic attacks predict accuracy on them.

Modules (imported one by one, so that the data stage's use of :mod:`~occlusion.realocc.crowding` stays light):
:mod:`~occlusion.realocc.crowding` (box overlap, overlap bins, CrowdPose's crowd index),
:mod:`~occlusion.realocc.datasets` (OCHuman / CrowdPose files checked and loaded into person records),
:mod:`~occlusion.realocc.scoring` (CrowdPose AP with ``xtcocotools``, COCO's ``v=1`` / ``v=2`` keypoint accuracy,
AP by overlap), :mod:`~occlusion.realocc.analysis` (rank correlation, effective robustness, augmentation tests),
:mod:`~occlusion.realocc.stage` (the ``realocc`` DVC stage) and :mod:`~occlusion.realocc.report` (its figure and
table).
"""
