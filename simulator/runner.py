"""The one place that maps a task over the samples of a data set: in this process, on a local process
pool, or on a Dask cluster (any concurrent.futures.Executor), with the same result bits everywhere.

A task is a setup function and a work function, named "module:function" (so that a worker imports
them itself, after its BLAS thread limit is set). Each worker process calls `setup(*args)` once (it
builds the sessions) and then `work(state, names)` for each shard: a fixed number of sample names,
which the worker reads from the data folder itself. `work` returns a mergeable result
(simulator.accumulators), never the tensors. The main process merges the results in shard order
(`merge(index, names, result)`), whatever order they finish in, so the bits do not depend on the
number of workers.

Faults: a worker process that dies has its shard run again (a new local pool; a Dask scheduler
re-runs it on another worker itself); with a checkpoint folder each finished shard's result is saved
atomically and `resume` skips the shards already there; an error in a sample (SimulatorError) stops
the run with that error, as a one-process run would.

This module imports no numpy at its top: a spawned worker sets its thread limits before numpy loads.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import importlib
import json
import os
import sys
import threading
import uuid
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import ParameterError, SimulatorError, WorkerError

DEFAULT_SHARD_SIZE = 16
MAX_ATTEMPTS = 3  # a shard whose worker died this many times stops the run
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Task:
    setup: str            # "module:function": setup(*args) -> state, once per worker process
    args: tuple
    work: str             # "module:function": work(state, names) -> mergeable shard result
    key: str              # identifies the run: checkpoints of another run are refused
    use_cuda: bool = False
    encode: Callable = None  # shard result <-> JSON for checkpoints (default: accumulators.encode/decode)
    decode: Callable = None


@dataclass
class Options:
    workers: int = 1
    scheduler: Optional[str] = None          # a Dask scheduler address
    executor: Any = None                     # a concurrent.futures.Executor or a dask.distributed Client
    shard_size: int = DEFAULT_SHARD_SIZE
    checkpoint_path: Optional[str] = None    # where each finished shard's result is saved
    resume: bool = False                     # skip the shards already saved there

    @property
    def parallel(self) -> bool:
        return self.workers > 1 or self.scheduler is not None or self.executor is not None


def options_from(params, executor=None, checkpoint_path=None) -> Options:
    """The runner options of a parameter schema (simulator.schema.base: workers, scheduler, shard_size,
    checkpoint_path, resume); `executor` comes from Python only."""
    return Options(workers=getattr(params, "workers", 1) or 1, scheduler=getattr(params, "scheduler", None),
                   executor=executor, shard_size=getattr(params, "shard_size", DEFAULT_SHARD_SIZE),
                   checkpoint_path=getattr(params, "checkpoint_path", None) or checkpoint_path,
                   resume=getattr(params, "resume", False))


def task_key(kind: str, params) -> str:
    """A run's identity from its parameters (not the runner's own options)."""
    fields = params.model_dump(mode="json") if hasattr(params, "model_dump") else dict(params)
    for k in ("workers", "scheduler", "shard_size", "checkpoint_path", "resume", "samples_path", "keep_samples",
              "threshold", "isolated_threshold", "threshold_scope"):
        fields.pop(k, None)
    return kind + ":" + hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Report:
    shards: int = 0
    resumed: int = 0       # shards taken from the checkpoint folder
    retried: int = 0       # shard runs repeated after a worker died
    workers: int = 1


# ---------------------------------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------------------------------

_STATES: dict[str, Any] = {}
_STATES_LOCK = threading.Lock()


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _state(key: str, setup: str, args: Optional[tuple]):
    """This process's state of the task (built once: a Dask worker runs shards on threads). args None: built
    by the pool initializer already (the arguments, e.g. a model, are not sent with every shard)."""
    with _STATES_LOCK:
        if key not in _STATES:
            if args is None:
                raise WorkerError(f"worker process {os.getpid()} has no state for task {key}")
            _STATES.clear()  # one task's sessions at a time per process
            _STATES[key] = _resolve(setup)(*args)
        return _STATES[key]


def _run_shard(key: str, setup: str, args: tuple, work: str, names: list):
    return _resolve(work)(_state(key, setup, args), names)


def _init_worker(threads: int, gpus: int, counter, key: str, setup: str, args: tuple):
    """Pool initializer: thread limits before numpy loads, one GPU per worker, then the task's state."""
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    if gpus > 1:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
        threadpool_limits(threads)
    except ImportError:
        pass
    _state(key, setup, args)


# ---------------------------------------------------------------------------------------------------
# main side
# ---------------------------------------------------------------------------------------------------

def iter_samples(data_path, inputs=None, max_samples: Optional[int] = None):
    """(sample name, {input name: array}) of a data folder in run order, one sample in memory at a time, the
    first `max_samples` (None: all): what a tool's loop that keeps per-sample state (sensitivity's float
    outputs) and so is no task reads; a task's worker reads its shard's names with data.SampleReader."""
    import itertools  # noqa: PLC0415

    from .data import iter_samples as _iter_folder  # noqa: PLC0415 - no numpy at this module's top

    samples = _iter_folder(data_path, inputs)
    return samples if max_samples is None else itertools.islice(samples, max(0, max_samples))


def shards_of(names: list, size: int) -> list[list]:
    if size < 1:
        raise ParameterError(f"shard_size must be at least 1, got {size}")
    return [list(names[i:i + size]) for i in range(0, len(names), size)]


class _Checkpoints:
    """shard-NNNNNN.json per finished shard in the checkpoint folder, written atomically."""

    def __init__(self, path: Optional[str], task: Task, resume: bool):
        self.path, self.task = (os.fspath(path) if path else None), task
        if self.path is None:
            if resume:
                raise ParameterError("resume needs a checkpoint folder (checkpoint_path / --checkpoint-dir; "
                                     "`simulator run` keeps its own in the output folder)")
            return
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"checkpoint folder {self.path!r} cannot be created: {exc.strerror or exc}") from None
        if not resume:
            for f in os.listdir(self.path):
                if f.startswith("shard-") and f.endswith(".json"):
                    os.remove(os.path.join(self.path, f))

    def _file(self, index):
        return os.path.join(self.path, f"shard-{index:06d}.json")

    def has(self, index: int) -> bool:
        return self.path is not None and os.path.isfile(self._file(index))

    def load(self, index: int, names: list):
        from .accumulators import decode  # noqa: PLC0415
        try:
            with open(self._file(index), encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError) as exc:
            raise ParameterError(f"checkpoint {self._file(index)!r} cannot be read ({exc}); remove it or run "
                                 f"without --resume") from None
        if saved.get("key") != self.task.key or saved.get("names") != names:
            raise ParameterError(f"checkpoint folder {self.path!r} holds shards of another run (other models, "
                                 f"data or options); use another folder or run without --resume")
        return (self.task.decode or decode)(saved["result"])

    def save(self, index: int, names: list, result):
        from .accumulators import encode  # noqa: PLC0415

        if self.path is None:
            return
        text = json.dumps({"key": self.task.key, "names": names, "result": (self.task.encode or encode)(result)})
        tmp = self._file(index) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self._file(index))


def run(task: Task, names: list, merge: Callable, options: Options = Options(),
        progress: Optional[Callable[[str], None]] = None, local_state: Any = None) -> Report:
    """Map `task` over `names` in shards; merge(index, names, result) in shard order; progress(sample)
    per sample merged. `local_state`: the task's state already built in this process (a serial run uses
    it instead of calling setup again)."""
    shards = shards_of(names, options.shard_size)
    checkpoints = _Checkpoints(options.checkpoint_path, task, options.resume)
    # the workers' state is this run's: a Dask worker that ran another run (or these files before a change)
    # builds its sessions again
    task = dataclasses.replace(task, key=f"{task.key}:{uuid.uuid4().hex}")
    report = Report(shards=len(shards))
    resumed = {i for i in range(len(shards)) if options.resume and checkpoints.has(i)}  # read when merged
    report.resumed = len(resumed)
    todo = [i for i in range(len(shards)) if i not in resumed]
    done: dict[int, Any] = {}
    next_merge = 0

    def deliver():
        nonlocal next_merge
        while next_merge in done or next_merge in resumed:
            result = done.pop(next_merge) if next_merge in done else checkpoints.load(next_merge, shards[next_merge])
            merge(next_merge, shards[next_merge], result)
            if progress is not None:
                for s in shards[next_merge]:
                    progress(s)
            next_merge += 1

    def finished(i, result):
        if i in todo_set:
            checkpoints.save(i, shards[i], result)
        done[i] = result
        deliver()

    todo_set = set(todo)
    if not options.parallel:
        state = local_state if local_state is not None or not todo else _resolve(task.setup)(*task.args)
        deliver()
        for i in todo:
            finished(i, _resolve(task.work)(state, shards[i]))
        return report
    if options.executor is not None or options.scheduler is not None:
        _run_on_executor(task, shards, todo, finished, options, report)
    else:
        _run_on_pool(task, shards, todo, finished, options, report)
    deliver()
    return report


def _check_main_guard() -> None:
    """Spawned workers re-import the script that started the run; a script whose code is not under
    `if __name__ == "__main__":` would start the run again in each worker, and each would die bootstrapping."""
    import ast  # noqa: PLC0415

    from .safe_io import read_bytes  # noqa: PLC0415 - safe_io imports numpy, which this module's top may not

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path or not str(path).endswith(".py") or not os.path.isfile(path):
        return  # python -c, an interactive session, a notebook: nothing is re-imported
    try:
        tree = ast.parse(read_bytes(path, "script", ParameterError, max_bytes=16 << 20))
    except (ParameterError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "__name__" and \
                any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.comparators):
            return
    raise ParameterError(f"workers > 1 starts worker processes that re-import the script {path!r}, which would run "
                         f"its top-level code again in each worker: put that code under "
                         f"`if __name__ == \"__main__\":`, or use workers=1")


def _run_on_pool(task, shards, todo, finished, options, report):
    import multiprocessing as mp  # noqa: PLC0415

    _check_main_guard()
    ctx = mp.get_context("spawn")
    workers = options.workers
    report.workers = workers
    threads = max(1, (os.cpu_count() or 1) // workers)
    gpus = _gpu_count() if task.use_cuda else 0
    counter = ctx.Value("i", 0)
    attempts = {i: 0 for i in todo}
    pending = list(todo)
    window = 2 * workers
    saved_env = {var: os.environ.get(var) for var in _THREAD_VARS}
    os.environ.update({var: str(threads) for var in _THREAD_VARS})  # spawned children load BLAS with it
    try:
        _pool_loop(task, shards, finished, workers, threads, gpus, ctx, counter, attempts, pending, window, report)
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _pool_loop(task, shards, finished, workers, threads, gpus, ctx, counter, attempts, pending, window, report):
    while pending:
        pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                      initargs=(threads, gpus, counter, task.key, task.setup, task.args))
        broken = False
        try:
            running: dict[cf.Future, int] = {}
            queue = list(pending)
            while queue or running:
                while queue and len(running) < window:
                    i = queue.pop(0)
                    attempts[i] += 1
                    running[pool.submit(_run_shard, task.key, task.setup, None, task.work, shards[i])] = i
                finished_now, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in sorted(finished_now, key=lambda f: running[f]):
                    i = running.pop(fut)
                    try:
                        result = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken = True
                        continue
                    pending.remove(i)
                    finished(i, result)
                if broken:
                    break
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=not broken, cancel_futures=True)
        if broken:
            report.retried += sum(1 for i in pending if attempts[i] > 0)
            worst = max(pending, key=lambda i: attempts[i])
            if attempts[worst] >= MAX_ATTEMPTS:
                raise WorkerError(f"worker processes died {attempts[worst]} times while running the shard of samples "
                                  f"{shards[worst][0]!r} to {shards[worst][-1]!r}; a sample may crash the process "
                                  f"(out of memory?): run it alone with workers=1 to see")


def _run_on_executor(task, shards, todo, finished, options, report):
    client = None
    executor = options.executor
    if executor is None:
        try:
            from distributed import Client  # noqa: PLC0415
        except ImportError:
            raise ParameterError("--scheduler needs Dask: pip install 'onnx-quant-simulator[dask]'") from None
        try:
            client = Client(options.scheduler, timeout=30)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(f"Dask scheduler {options.scheduler!r} cannot be reached: {exc}") from None
        executor = client
    workers = 8
    if hasattr(executor, "get_executor"):  # a dask.distributed Client: it re-runs a dead worker's task itself
        workers = max(1, len(executor.scheduler_info().get("workers", {})))
        executor = executor.get_executor(pure=False)
    else:
        workers = getattr(executor, "_max_workers", workers)
    report.workers = workers
    window = 2 * workers
    queue = list(todo)
    attempts = {i: 0 for i in todo}
    running: dict[cf.Future, int] = {}
    try:
        while queue or running:
            while queue and len(running) < window:
                i = queue.pop(0)
                attempts[i] += 1
                try:
                    running[executor.submit(_run_shard, task.key, task.setup, task.args, task.work, shards[i])] = i
                except cf.BrokenExecutor:
                    raise WorkerError(f"the executor's worker processes died (while running samples "
                                      f"{shards[i][0]!r} and on); a broken process pool cannot take more work: pass a "
                                      f"new one, or use workers=N, which replaces dead workers itself") from None
            finished_now, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in sorted(finished_now, key=lambda f: running[f]):
                i = running.pop(fut)
                try:
                    result = fut.result()
                except SimulatorError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a lost worker: run the shard again
                    if not _lost_worker(exc) or attempts[i] >= MAX_ATTEMPTS:
                        raise
                    report.retried += 1
                    queue.insert(0, i)
                    continue
                finished(i, result)
    finally:
        for fut in running:
            fut.cancel()
        if client is not None:
            client.close()


def _lost_worker(exc) -> bool:
    name = type(exc).__name__
    return isinstance(exc, cf.BrokenExecutor) or name in ("KilledWorker", "CommClosedError", "FutureCancelledError")


def _gpu_count() -> int:
    from .backend import device_count  # noqa: PLC0415

    return device_count()


__all__ = ["Task", "Options", "Report", "run", "options_from", "task_key", "shards_of", "iter_samples", "DEFAULT_SHARD_SIZE"]
