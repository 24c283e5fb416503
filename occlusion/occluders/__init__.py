"""Object occluders (docs/METHODS.md §11): banks of RGBA cut-outs (:mod:`.bank`), their placement and compositing
(:mod:`.place`), object-paste augmentations (:mod:`.paste`) and object attacks (:mod:`.attack`)."""
from .bank import SHAPE_CLASSES, CocoBankFilter, ObjectBank, build_coco_bank, load_bank, procedural_bank
from .paste import LABEL_UPDATES, ObjectPaste, ObjectPasteAug, ObjectPasteParams, update_labels
from .place import (
    PLACEMENT_MODES,
    ObjectPlacement,
    apply_object,
    covered_joints,
    object_mask,
    person_area,
    placement_for_area,
    render_object,
    sample_placement,
)

__all__ = [
    "ObjectBank", "SHAPE_CLASSES", "procedural_bank", "CocoBankFilter", "build_coco_bank", "load_bank",
    "ObjectPlacement", "PLACEMENT_MODES", "person_area", "placement_for_area", "sample_placement", "render_object",
    "object_mask", "apply_object", "covered_joints",
    "ObjectPasteAug", "ObjectPasteParams", "ObjectPaste", "LABEL_UPDATES", "update_labels",
]
