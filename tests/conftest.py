import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir():
    """The real data folder from $VISION_ATTENTION_DATA; skips the test when it is unset."""
    root = os.environ.get("VISION_ATTENTION_DATA")
    if not root:
        pytest.skip("VISION_ATTENTION_DATA is not set: real-data test skipped")
    path = Path(root)
    if not path.is_dir():
        pytest.skip(f"VISION_ATTENTION_DATA={root} is not a folder")
    return path
