"""Issue 13's hostile inputs and a further corpus (tests/hostile_corpus.py), run in one child process under a
memory limit (RLIMIT_AS) and a time limit: a regression that hangs (a FIFO, an endless Loop) or allocates
without bound (/dev/zero, an .npz bomb) fails here instead of stalling CI. Each case then asserts its error
class and message, or its result."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from tests import hostile_corpus
from tests.conftest import ROOT

MEMORY_LIMIT = 2 << 30  # address space of the child: far below what any of the bombs would take
TIME_LIMIT = 240  # seconds for the whole corpus (it takes about 20 s on 2 cores); each case also has an alarm


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    if not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"):
        pytest.skip("needs a POSIX system (FIFOs, /dev/zero)")
    out = tmp_path_factory.mktemp("hostile") / "records.json"
    # One thread each and few malloc arenas: RLIMIT_AS counts reserved address space, which thread pools
    # and per-thread arenas inflate on machines with many cores.
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    try:
        proc = subprocess.run([sys.executable, "-m", "tests.hostile_corpus", str(out)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=TIME_LIMIT, preexec_fn=_limits)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the hostile corpus ran past {TIME_LIMIT} s (a hang?); cases done: "
                    f"{[r['id'] for r in json.loads(out.read_text())] if out.exists() else []}")
    done = json.loads(out.read_text()) if out.exists() else []
    assert proc.returncode == 0, (f"the corpus process died (memory limit {MEMORY_LIMIT >> 20} MB?) after "
                                  f"{[r['id'] for r in done][-3:]}: {proc.stderr[-2000:]}")
    return {r["id"]: r for r in done}


@pytest.mark.parametrize("case", hostile_corpus.CASES, ids=[c.id for c in hostile_corpus.CASES])
def test_hostile_input_is_handled_clearly(records, case):
    record = records.get(case.id)
    assert record is not None, f"case {case.id} did not run (the corpus process stopped before it)"
    assert record["clear"], record["why"]


def test_the_corpus_covers_the_issue_and_more():
    cases = hostile_corpus.CASES
    assert len({c.id for c in cases}) == len(cases)
    assert sum(c.issue for c in cases) >= 30 and sum(not c.issue for c in cases) >= 30
