"""verify_dumps: featuremaps dumped by another tool or a device (.npy, .npz, AIMET layer-output .raw) against the
simulator: cumulative (simulator run vs dump) and isolated (the simulator's op on the dumped inputs, undumped
ones replayed, vs the dumped output)."""
from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import dumps as _dumps
from ..accumulators import RecordJournal
from ..backend import to_host
from ..encodings import describe_names
from ..errors import DataError, SimulatorError
from ..metrics import get_metric
from ..session import InferenceSession
from ..tensor_stats import weight_ranges
from .dump_reader import Dump, dump_inputs, extend_mapping, match_dump_names, read_aligned, read_input
from .isolated import replay
from .pairing import op_of
from .quantizers import quantizer_of, scale_of, tensor_grid
from .reducer import LayerwiseReducer
from .results import LayerwiseCheckResult
from .tasks import Progress, model_desc, run_samples


class VerifyState:
    """One process's part of verify_dumps: the session, the dump's index, which file is which tensor, where
    each sample's inputs come from."""

    def __init__(self, params):
        self.params = params
        self.session = InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)
        interp = self.interp = self.session.interpreter
        dump = self.dump = Dump(params.featuremap_path)
        self.input_specs = {i.name: i for i in interp.inputs}
        self.quantized_constants = [n for n in interp.constants if n in interp.param_quantizers]  # dumped by AIMET
        self.candidates = [i.name for i in interp.inputs] + self.quantized_constants + list(interp.producer)
        all_keys = {k for files in dump.samples.values() for k in files}
        self.mapping, self.unmatched = match_dump_names(sorted(all_keys), self.candidates)
        self.mapping, self.unmatched = extend_mapping(self.mapping, self.unmatched, self.candidates,
                                                             getattr(params, "name_map_path", None))
        if not self.mapping:
            raise DataError(f"none of the {len(all_keys)} dumped featuremaps in {dump.path!r} names a tensor of model "
                            f"{params.input_model_path!r} (e.g. {describe_names(sorted(all_keys), 5)}; model tensors "
                            f"e.g. {describe_names(self.candidates[:5])})")
        order = {n: k for k, n in enumerate(self.candidates)}
        self.dumped_names = sorted(set(self.mapping.values()), key=lambda n: order[n])
        self.k = get_metric(params.metric).k_of(params.top_k)
        # the samples in the order they run, and where their inputs come from
        dump_samples = list(dump.samples)
        self.reader, self.pairing = None, None
        if params.input_data_path is not None:
            self.reader = _data.SampleReader(params.input_data_path, interp.inputs)
            names = self.reader.names
            if all(s in names for s in dump_samples):
                self.pairing = {s: s for s in dump_samples}
            elif len(names) == len(dump_samples):
                self.pairing = dict(zip(dump_samples, names))
            else:
                raise DataError(f"the dump's samples ({describe_names(dump_samples, 5)}) match the data folder's "
                                f"({describe_names(names, 5)}) neither by name nor by count")
            wanted = {v: k for k, v in self.pairing.items()}
            self.samples = [wanted[s] for s in names if s in wanted]
        else:
            self.samples = dump_samples
        self.index = {s: i for i, s in enumerate(self.samples)}

    def hist_start(self, names: list) -> int:
        return self.index[names[0]] if names else 0

    def feed(self, sample: str) -> dict:
        if self.reader is not None:
            return self.reader.read(self.pairing[sample])
        return dump_inputs(self.dump, sample, self.mapping, self.input_specs, self.params.input_model_path)


class _ShardDiagnosis:
    """What simulator.dumps records its diagnosis on: a shard's in a worker, the run's in the merge."""
    dump_diagnosis = None


def verify_shard(state: VerifyState, names: list) -> dict:
    """{tensor name: RecordJournal result} of one shard of dump samples (runner work function)."""
    interp, dump, mapping, params = state.interp, state.dump, state.mapping, state.params
    records = {n: RecordJournal(state.k, state.hist_start(names)) for n in state.dumped_names}
    local = _ShardDiagnosis()  # the dumps' layouts and grid differences seen in this shard (simulator.dumps)
    for sample in names:
        feed = state.feed(sample)
        files = {mapping[k]: loc for k, loc in dump.samples[sample].items() if k in mapping}
        shapes: dict[str, tuple] = {}
        dtypes: dict[str, np.dtype] = {}
        fed = {k: np.asarray(v) for k, v in feed.items()}

        replayed: dict = {}  # undumped tensors re-computed from the dumped ones, this sample

        def dumped_value(n, files=files, shapes=shapes, dtypes=dtypes, fed=fed):
            """A tensor as the dump (or its inputs) gives it, in the model's shape and dtype; None: not dumped."""
            if n in files and n in shapes:
                return interp.xp.asarray(read_input(local, files[n], n, shapes[n], dtypes[n]))  # its layout
            return None if n not in fed else interp.xp.asarray(fed[n])

        def check(name, value, raw, sample=sample, files=files, shapes=shapes, dtypes=dtypes, replayed=replayed):
            host = np.asarray(to_host(value))
            shapes[name], dtypes[name] = host.shape, host.dtype
            loc = files.get(name)
            if loc is None:
                return
            rec = records[name]
            dumped = read_aligned(local, rec, loc, name, host, raw, interp, params)  # layout, grid, ties
            if dumped is None:
                return
            _note_unapplied_encoding(rec, interp, name, host, raw, dumped)
            scale = scale_of(interp, name, host)
            rec.add(sample, host, dumped, scale)
            rec.tensor.update(host, dumped, raw, tensor_grid(interp, name, host))
            step = interp.producer.get(name)
            if step is None:
                rec.isolated_note = ("a quantized weight: no op to re-run" if name in interp.constants
                                     else "graph input: no op to re-run")
                return
            try:
                args, chain = [], []
                for n in step.inputs:
                    args.append(None if not n or n in interp.constants else
                                replay(interp, n, dumped_value, replayed, chain))
                iso = np.asarray(to_host(interp.run_step(name, args)))
            except DataError as exc:
                rec.isolated_note = str(exc)
                return
            except SimulatorError as exc:
                rec.isolated_note = f"re-running {step.label} on the dumped inputs failed: {exc}"
                return
            if chain:  # e.g. AIMET dumps a Linear layer only at its Add: its MatMul is re-run first
                rec.isolated_rerun += [c for c in chain if c not in rec.isolated_rerun]
            rec.add_isolated(sample, iso, dumped, scale_of(interp, name, iso))

        for n in state.quantized_constants:
            if n in files:
                check(n, interp.constants[n], None)
        interp.run(state.session.prepare_feed(feed), set(), observer=check)
    diag = getattr(local, "dump_diagnosis", None)
    return {"layers": {n: rec.result() for n, rec in records.items()},
            "dump": dict(diag.tensors) if diag is not None else {}}


def verify_dumps(params, progress: Progress = None, executor=None) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    state = VerifyState(params)
    models = [model_desc(params.input_model_path, params.input_encodings_path, state.session),
              {"dump": state.dump.path, "format": state.dump.kind}]
    reducer = LayerwiseReducer(metric, params)
    for n in state.dumped_names:
        op, node = op_of(state.interp, n)
        reducer.add_layer(n, n, n, op, node, n in state.interp.constants, weight_ranges(state.interp, n))
    dumps_seen = _ShardDiagnosis()  # the dumps' layouts and grid differences over all shards (simulator.dumps)

    def merge(index, names, shard):
        reducer.merge(names, shard["layers"])
        if shard["dump"]:
            _dumps.merge_diagnosis(_dumps.diagnosis_of(dumps_seen, params), shard["dump"])
    run_samples(reducer, "verify", f"{__name__}:VerifyState", (params,), f"{__name__}:verify_shard", state,
                state.samples, merge, params, progress, executor)
    return reducer.result(models, "simulator", "dump",
                          "not produced by the simulator on these inputs", unmatched=state.unmatched,
                          dump_diagnosis=dumps_seen.dump_diagnosis)


def _note_unapplied_encoding(rec, interp, name: str, host, raw, dumped) -> None:
    """Say so where a dump is far closer to the tensor before its encoding than after it: the dumping tool applied
    no encoding there, or a finer one (AIMET's 2.0.0 export writes encodings, such as a Conv output in front of a
    ReLU6, that its own sim never enabled). The comparison itself stays as it is: a wrong encoding in the file
    looks the same from the dump, and only the user can tell which it is."""
    if raw is None or quantizer_of(interp, name, host) is None or dumped.dtype.kind != "f":
        return
    pre = np.asarray(to_host(raw), np.float64)
    if pre.shape != dumped.shape:
        return
    off_pre = float(np.sqrt(np.mean(np.square(dumped - pre))))
    off_host = float(np.sqrt(np.mean(np.square(dumped - host.astype(np.float64)))))
    if off_host > 0 and 10 * off_pre <= off_host:
        rec.note = (f"the dump is {off_host / max(off_pre, 1e-300):.3g}x closer to this tensor before its encoding "
                    f"than after it: the dumping tool applied no encoding here, or a finer one than the file's")
