"""`simulator generate`: greedy generation with a prompt graph and a token graph (each a model or a pipeline of
parts) sharing a KV cache."""
from __future__ import annotations

import json
import sys

from ..errors import ParameterError
from ._options import add_quiet, add_simulation_options, simulation_options

NAME = "generate"
HELP = "generate tokens greedily with a prompt graph and a token graph sharing a KV cache"
EXAMPLES = (
    "simulator generate --prompt-model examples/small_decoder/prompt/ --token-model examples/small_decoder/token/ --prompt 5,17,33 -n 8",
    "simulator generate --prompt-model examples/small_decoder/prompt/ --token-model examples/small_decoder/token/ --prompt 5,17,33 -n 8 --float --json",
    "simulator generate --prompt-model my_llm/ --prompt 1,2,3 -n 32 --stop-token 2        # one set of parts for both",
)


def add_generation_options(p) -> None:
    """The options generate and compare-generation share."""
    p.add_argument("--prompt-model", required=True, metavar="SPEC",
                   help="the prompt graph: a .onnx model, a folder of parts (layer_NN.onnx or NAME_i_of_n.onnx, each "
                        "with its .encodings beside it) or a pipeline .json")
    p.add_argument("--token-model", metavar="SPEC", help="the single-token graph (default: the prompt graph)")
    p.add_argument("--prompt", required=True, metavar="IDS", help="the prompt's token ids, comma-separated")
    p.add_argument("--max-new-tokens", "-n", type=int, default=16, help="tokens to generate (default: %(default)s)")
    p.add_argument("--stop-token", type=int, help="stop after generating this token id")
    p.add_argument("--pad-token", type=int, default=0, help="id used to left-pad a prompt shorter than a fixed-length "
                   "prompt graph (default: %(default)s)")
    p.add_argument("--logits", help="the logits output's name (default: 'logits', else the first non-cache output)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the result as JSON (to stdout without "
                   "FILE)")
    add_simulation_options(p)
    add_quiet(p)


def add_arguments(p) -> None:
    add_generation_options(p)
    p.add_argument("--float", action="store_true", help="ignore the encodings (float inference)")


def prompt_ids(text: str) -> list[int]:
    try:
        ids = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise ParameterError(f"--prompt {text!r}: expected comma-separated token ids such as 1,5,9") from None
    if not ids:
        raise ParameterError("--prompt: give at least one token id")
    return ids


def generator(args, prompt_spec, token_spec, quantized: bool):
    from ..generation import Generator  # noqa: PLC0415
    from ..pipeline import Pipeline  # noqa: PLC0415

    options = dict(quantized=quantized, **simulation_options(args))
    prompt = Pipeline.load(prompt_spec, **options)
    token = Pipeline.load(token_spec, **options) if token_spec and token_spec != prompt_spec else prompt
    return Generator(prompt, token, logits_name=args.logits, pad_token=args.pad_token)


def progress_bar(args, desc: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=args.max_new_tokens, desc=desc, unit="token", disable=args.quiet or None, file=sys.stderr)


def write_json(data: dict, target: str) -> None:
    text = json.dumps(data, indent=2)
    if target == "-":
        print(text)
    else:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"result written to {target}", file=sys.stderr)


def run(args) -> int:
    import time  # noqa: PLC0415

    ids = prompt_ids(args.prompt)
    start = time.perf_counter()
    gen = generator(args, args.prompt_model, args.token_model, quantized=not args.float)
    loaded = time.perf_counter() - start
    with progress_bar(args, "tokens") as bar:
        result = gen.generate(ids, args.max_new_tokens, args.stop_token, progress=lambda step: bar.update(1))
    elapsed = time.perf_counter() - start - loaded
    data = dict(result.to_dict(), mode="float" if args.float else "quantized", load_s=round(loaded, 4),
                generate_s=round(elapsed, 4))
    if args.json:
        write_json(data, args.json)
    if args.json != "-":
        print(f"prompt: {','.join(map(str, ids))}")
        print(f"generated ({data['mode']}, {len(result.tokens)} token(s), stopped by {result.stopped_by}): "
              f"{','.join(map(str, result.tokens))}")
        print(f"load {loaded:.2f} s, generation {elapsed:.2f} s ({elapsed / max(len(result.tokens), 1) * 1000:.1f} "
              f"ms/token)")
    return 0
