"""backend.FloatErrorsIgnored: NumPy's errstate(all="ignore") entered once for nested runs, restored on exit
(also after an error), per thread."""
import threading

import numpy as np
import pytest

from simulator.backend import FloatErrorsIgnored


def test_nested_uses_enter_numpys_errstate_once_and_restore_it():
    before = np.geterr()
    with FloatErrorsIgnored(np):
        assert set(np.geterr().values()) == {"ignore"}
        with FloatErrorsIgnored(np):
            np.seterr(divide="raise")  # inside the inner one: the outer one's exit restores the caller's state
        assert np.geterr()["divide"] == "raise"  # the inner exit restored nothing
    assert np.geterr() == before
    with pytest.raises(ZeroDivisionError):
        with FloatErrorsIgnored(np):
            raise ZeroDivisionError
    assert np.geterr() == before


def test_another_thread_is_not_inside_this_threads_state():
    seen = []
    with FloatErrorsIgnored(np):
        def other():
            before = np.geterr()
            with FloatErrorsIgnored(np):
                seen.append(set(np.geterr().values()))
            seen.append(np.geterr() == before)
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [{"ignore"}, True]
