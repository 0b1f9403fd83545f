"""`simulator compare-generation`: model 0 (float) generates, model 1 (quantized) follows its tokens; per generated
token: logits SNR, top-1 agreement, KL divergence, and the first step where the tokens differ."""
from __future__ import annotations

from .generate import add_generation_options, generator, progress_bar, prompt_ids, write_json

NAME = "compare-generation"
HELP = "generate with model 0 (float) and compare model 1 (quantized) token by token"
EXAMPLES = (
    "simulator compare-generation --prompt-model examples/small_decoder/prompt/ --token-model examples/small_decoder/token/ --prompt 60,40,44,57,37 -n 4",
    "simulator compare-generation --prompt-model prompt/ --token-model token/ --prompt 1,2,3 -n 16 --threshold 20 --json report.json",
)


def add_arguments(p) -> None:
    add_generation_options(p)
    p.add_argument("--prompt-model-1", metavar="SPEC", help="model 1's prompt graph (default: --prompt-model, "
                   "quantized)")
    p.add_argument("--token-model-1", metavar="SPEC", help="model 1's token graph (default: --token-model, quantized)")
    p.add_argument("--threshold", "-t", type=float, help="fail (exit 1) when a step's logits SNR falls below this "
                   "many dB")


def run(args) -> int:
    from ..generation import compare_generation  # noqa: PLC0415

    ids = prompt_ids(args.prompt)
    gen_0 = generator(args, args.prompt_model, args.token_model, quantized=False)
    prompt_1 = args.prompt_model_1 or args.prompt_model
    token_1 = args.token_model_1 or (args.token_model if not args.prompt_model_1 else None)
    gen_1 = generator(args, prompt_1, token_1, quantized=True)
    with progress_bar(args, "tokens") as bar:
        result = compare_generation(gen_0, gen_1, ids, args.max_new_tokens, args.stop_token,
                                    progress=lambda step: bar.update(1))
    data = result.to_dict()
    passed = args.threshold is None or all(s.snr_db >= args.threshold for s in result.steps)
    data["passed"] = passed
    if args.json:
        write_json(data, args.json)
    if args.json != "-":
        print(result.format_table())
    return 0 if passed else 1
