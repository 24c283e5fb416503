"""``python -m occlusion.synthetic OUT_DIR [--seed N] [--train-images N] [--val-images N]``."""
from .dataset import main

if __name__ == "__main__":
    main()
