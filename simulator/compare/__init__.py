"""Comparison: two models on a data folder (outputs, or layer by layer), and dumps of another tool.

* `compare_by_inference` (inference.py): model 0 (the reference) and model 1 on every sample; one metric
  value per sample and output, plus the worst, mean and pooled value per output.
* `compare_by_layer` (layerwise.py): intermediate tensors, paired by name (or layer_match_info). Per layer:
  the cumulative error (model 1 as it runs vs model 0) and, in the same pass, the isolated error (the op of
  model 1 that produces the tensor, re-run on model 0's values of its inputs, re-quantized by model 1's
  encodings), with both in quantization steps when the tensor has an encoding.
* `verify_dumps` (verify.py): featuremaps dumped by another tool or a device (.npy, .npz, AIMET layer-output
  .raw) against the simulator: cumulative (simulator run vs dump) and isolated (the simulator's op on the
  dumped inputs vs the dumped output).

One job per module: results.py (the result classes, built once by reducer.py from the merged accumulators),
layer_record.py, diagnosis.py (the verdict in words), pairing.py (outputs and layers), isolated.py (the
re-run and the replay of undumped inputs), dump_reader.py, store.py (one sample's featuremaps, spilled past
a limit), export.py (export_featuremap), quantizers.py, tasks.py (the sample loops as simulator.runner tasks).

Memory stays flat in the number of samples: metrics accumulate sample by sample (simulator.metrics),
and one sample's featuremaps are held (or spilled to a temporary folder past `memory_limit`) only
while that sample is compared.
"""
from __future__ import annotations

from .dump_reader import Dump, dump_inputs, match_dump_names, sanitize
from .inference import compare_by_inference
from .layer_record import LayerRecord
from .layerwise import compare_by_layer
from .pairing import match_outputs
from .quantizers import quantizer_of
from .results import InferenceCheckResult, LayerwiseCheckResult
from .store import DEFAULT_MEMORY_LIMIT
from .isolated import replay
from .verify import verify_dumps

__all__ = ["InferenceCheckResult", "LayerwiseCheckResult", "LayerRecord", "compare_by_inference", "compare_by_layer",
           "verify_dumps", "match_outputs", "sanitize"]
