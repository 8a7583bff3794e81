"""The suite's fixtures.  Shared constants and helpers are in support.py (tests import that,
never this file)."""
import numpy as np
import pytest

from fastent import _config
from support import ISAS


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture(params=ISAS)
def isa(request):
    """Run a test under each instruction set's kernels, then restore the default."""
    before = _config.isa()
    _config._set_isa(request.param)
    yield request.param
    _config._set_isa(before)
