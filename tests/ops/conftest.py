import pytest

from ops import _compiled


@pytest.fixture(params=["compiled", "numpy"])
def kernel_path(request):
    """Run the test twice: with the compiled loops (when Numba is installed) and with their NumPy twins."""
    if request.param == "numpy":
        with _compiled.disabled():
            yield request.param
    else:
        yield request.param
