"""The embedded default dataset: generated images of articulated people in COCO and MPII formats.

Every experiment of the project (training small pose models, the occlusion attacks of paper Figs. 3-8, the
targeted augmentations of Table I) runs end to end on CPU on a dataset this module draws, so nothing has to be
downloaded. A scene holds one to four people on a cluttered, textured background. Each person is a 3D stick
skeleton (torso, neck, head, two arms with upper arm, forearm and hand, two legs with thigh, shin and foot),
posed from one of five pose families (standing, walking, arms raised, sitting, free action), turned about the
vertical axis (frontal to profile), tilted in the image plane, projected orthographically and painted back to
front as shaded limbs in varied clothing colours. The head is skin coloured with hair, two dark eyes on white,
a nose and two ears, so the face keypoints have something to hide.

Labels follow COCO (docs/METHODS.md §1): ``v=2`` visible, ``v=1`` labelled but hidden (under a nearer
person's silhouette, or under the person's own nearer limbs in side views), ``v=0`` unlabelled with
``x=y=0`` (outside the image, or a face point on the far side of the head). People are painted in
annotation-id order, so a later annotation of an image is nearer to the camera. The MPII export derives the
16 MPII joints from the same skeletons (pelvis = mid-hip, thorax = mid-shoulder, upper neck, head top).

Layout written by :func:`generate_dataset`::

    OUT/images/{train,val}/000001.jpg
    OUT/annotations/person_keypoints_{train,val}.json   COCO keypoints (segmentation as RLE)
    OUT/detections/val_detections.json                  simulated person detector (COCO results)
    OUT/mpii/{train,valid}.json                         HRNet's MPII json layout, 1-based, with head boxes
    OUT/manifest.json                                   config, sha256 of every file, fingerprint
    OUT/ochuman/..., OUT/crowdpose/...                  with ochuman_images / crowdpose_images > 0: the
                                                        real-occlusion stand-ins (:mod:`.realsplits`)

The MPII ``center`` sits ``15 * scale`` px above the body-box centre and ``scale`` is the body-box height / 200,
so HRNet's MPII loader (which moves the centre down by ``15 * scale`` and enlarges the scale 1.25x) crops the
body box with a 1.25 margin, as for COCO. Unlabelled MPII joints are ``(-1, -1)`` with ``joints_vis`` 0.

Modules: :mod:`~occlusion.synthetic.config` (:class:`SyntheticConfig`), :mod:`~occlusion.synthetic.person`
(sampled pose, view and clothing), :mod:`~occlusion.synthetic.body` (the posed, projected body model),
:mod:`~occlusion.synthetic.draw` (painting and backgrounds), :mod:`~occlusion.synthetic.scene` (layout, labels,
:func:`render_image`), :mod:`~occlusion.synthetic.labels` (COCO and MPII records),
:mod:`~occlusion.synthetic.detector` (the simulated detector) and :mod:`~occlusion.synthetic.dataset`
(:func:`generate_dataset`, the command line).

Example::

    python -m occlusion.synthetic data/synthetic --seed 0
"""
from .config import MPII_SPLIT_NAMES, SPLITS, SyntheticConfig
from .dataset import generate_dataset, main
from .labels import coco_categories
from .scene import SyntheticImage, render_image

__all__ = ["SyntheticConfig", "SyntheticImage", "render_image", "generate_dataset", "coco_categories", "main",
           "SPLITS", "MPII_SPLIT_NAMES"]
