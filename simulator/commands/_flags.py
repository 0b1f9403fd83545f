"""Schema field names -> the command-line flags that set them, in one place: an error raised by the API
(which names fields) is printed by the CLI with the flag the user typed instead."""
from __future__ import annotations

import re

# field of simulator.schema.base (or CalibrationConfig) -> argparse dest of the option that sets it
FIELD_DESTS = {
    "input_model_path": "model", "input_model_path_0": "model0", "input_model_path_1": "model1",
    "input_encodings_path": "encodings", "input_encodings_path_0": "encodings0",
    "input_encodings_path_1": "encodings1", "input_data_path": "data", "featuremap_path": "dumps",
    "layerwise_check_name": "layer", "layer_match_info": "match", "isolated_threshold": "isolated_threshold",
    "export_featuremap_path": "export_featuremap", "metric": "metric", "threshold": "threshold", "top_k": "top_k",
    "use_cuda": "cuda", "rounding": "rounding", "apply_int32_bias": "int32_bias", "deterministic": "deterministic",
    "param_bitwidth": "param_bw", "activation_bitwidth": "act_bw", "op_bitwidths": "op_bw",
    "tensor_bitwidths": "tensor_bw", "max_samples": "max_samples", "kernels": "kernels",
    "ort_threads": "ort_threads",
}

_PREFIX = re.compile(r"^invalid \w+Parameters: ")
_FIELD = re.compile(r"\bfield '(\w+)'|\b(\w+)\[('[^']*')\]|\b(" + "|".join(
    sorted((f for f in FIELD_DESTS if "_" in f), key=len, reverse=True)) + r")\b")


def flag_of(parser, dest: str, argv) -> str | None:
    """The flag of `dest` as the user typed it (e.g. -d or --data), or the positional's name (MODEL)."""
    for action in parser._actions:  # argparse keeps no public list of a parser's actions
        if action.dest != dest:
            continue
        if not action.option_strings:
            return (action.metavar or action.dest).upper()
        typed = [o for o in action.option_strings if any(a == o or a.startswith(o + "=") for a in argv)]
        longest = max(action.option_strings, key=len)
        return typed[0] if typed else longest
    return None


def in_cli_words(message: str, parser, argv) -> str:
    """`message` with the schema's field names replaced by the command's flags."""
    def sub(m):
        field = m.group(1) or m.group(2) or m.group(4)
        flag = flag_of(parser, FIELD_DESTS.get(field, ""), argv)
        if flag is None:
            return m.group(0)
        return f"{flag} {m.group(3)[1:-1]}" if m.group(2) else flag

    return _FIELD.sub(sub, _PREFIX.sub("", message))
