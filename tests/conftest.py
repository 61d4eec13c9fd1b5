import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorded import LITELLM_SAMPLES  # noqa: E402


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return LITELLM_SAMPLES
