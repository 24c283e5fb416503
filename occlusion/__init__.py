"""occlusion: targeted occlusion attacks and augmentations for 2D pose estimation (Pytel et al., ICPR 2020)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("occlusion")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
