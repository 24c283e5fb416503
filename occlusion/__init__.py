"""occlusion: targeted occlusion attacks and augmentations for 2D pose estimation (Pytel et al., ICPR 2020)."""
import atexit
import gc
import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("occlusion")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

# torch and timm leave millions of GC-tracked objects behind; the collections during interpreter shutdown walk them
# all, about 1 s per process. Freezing them at exit skips that walk (each DVC stage is one papermill kernel, each
# one process). Reference counting still frees everything; only garbage in cycles is left to the operating system.
atexit.register(gc.freeze)
logging.getLogger(__name__).addHandler(logging.NullHandler())  # status messages: occlusion.logs
