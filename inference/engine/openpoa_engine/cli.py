"""Command line: serve, generate-model, generate-adapters, train-adapter, convert-gguf, artifact-hash, bench,
bench-scheduling."""

import argparse
import json
import os
import sys

# One BLAS thread: OpenBLAS threads on top of torch's own oversubscribe 2 cores (set before torch loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

DTYPES = ("float32", "bfloat16", "float16")
TRAIN_DEFAULTS = dict(rank=64, steps=160, lr=5e-3)


def _device_args(parser):
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", choices=DTYPES, help="default: float32 on cpu, bfloat16 on cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on cpu")


def _setup(args):
    import torch

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    return torch, getattr(torch, args.dtype or ("float32" if args.device == "cpu" else "bfloat16"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="openpoa_engine")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the engine process (JSON lines on stdin/stdout)")
    serve.add_argument("--model", required=True, help="model directory (config.json + *.safetensors)")
    serve.add_argument("--adapters", required=True, help="adapter source: directory or http(s) base URL")
    serve.add_argument("--model-name", default="", help="base-model identity adapters may name (default: config)")
    serve.add_argument(
        "--model-artifact-hash", default="", help="the model's artifact hash; adapters may name it as their base model"
    )
    serve.add_argument("--max-batch-size", type=int, default=32)
    serve.add_argument("--max-seq-len", type=int, default=1024)
    serve.add_argument("--max-prefill-tokens", type=int, default=2048, help="prompt tokens prefilled per step")
    serve.add_argument("--kv-budget-mb", type=float, help="KV cache (default: max batch size x max seq len tokens)")
    serve.add_argument("--max-adapters-per-batch", type=int, help="distinct adapters in a batch (default: pages)")
    serve.add_argument(
        "--decode-reserve-tokens",
        type=int,
        help="KV a sequence reserves past its prompt, growing later, preempted when none is left (default: max_tokens)",
    )
    serve.add_argument("--device-budget-mb", type=float, default=1024)
    serve.add_argument("--host-budget-mb", type=float, default=4096)
    serve.add_argument(
        "--disk-cache-dir", help="disk cache of adapters from an http(s) source (default: a temporary directory)"
    )
    serve.add_argument("--disk-cache-mb", type=float, default=10240)
    _device_args(serve)

    gen_model = commands.add_parser("generate-model", help="write a deterministic random Llama checkpoint")
    gen_model.add_argument("--out", required=True)
    gen_model.add_argument("--preset", default="tiny", choices=("tiny", "demo", "small", "bench"))
    gen_model.add_argument("--seed", type=int, default=0)
    gen_model.add_argument("--shards", type=int, default=1)

    gen_adapters = commands.add_parser("generate-adapters", help="write deterministic PEFT adapters OUT/<sha256>/")
    gen_adapters.add_argument("--model", required=True)
    gen_adapters.add_argument("--out", required=True)
    gen_adapters.add_argument("--count", type=int, default=4)
    gen_adapters.add_argument("--rank", type=int, default=16)
    gen_adapters.add_argument("--alpha", type=float)
    gen_adapters.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    gen_adapters.add_argument("--seed", type=int, default=0)

    train = commands.add_parser("train-adapter", help="fine-tune a LoRA adapter on text files -> OUT/<sha256>/")
    train.add_argument("--model", required=True)
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", nargs="+", help="UTF-8 text files, one document each")
    data.add_argument("--spec", help='JSON {"datasets": [{"name", "files": [...], "meta": {...}}]}, one per source')
    train.add_argument("--out", required=True)
    train.add_argument("--rank", type=int, default=TRAIN_DEFAULTS["rank"])
    train.add_argument("--alpha", type=float, help="default: 2 * rank")
    train.add_argument("--steps", type=int, default=TRAIN_DEFAULTS["steps"])
    train.add_argument("--lr", type=float, default=TRAIN_DEFAULTS["lr"], help="peak Adam rate (warm-up, cosine decay)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--targets", default="q,k,v,o,gate,up,down")
    train.add_argument("--seq-len", type=int, help="tokens per packed training sequence (default: the context)")
    train.add_argument("--holdout", type=float, default=0.0, help="share of each dataset's documents held out")
    train.add_argument("--base-artifact-hash", help="recorded in the training manifest")
    train.add_argument("--json", action="store_true", help="print a JSON summary instead of the bare hash")
    train.add_argument("--threads", type=int, default=1, help="torch threads (the result depends on it)")

    convert = commands.add_parser("convert-gguf", help="GGUF (llama.cpp) file -> HF model directory the engine loads")
    convert.add_argument("--gguf", required=True)
    convert.add_argument("--out", required=True)
    convert.add_argument("--name", default="", help="_name_or_path (default: organization/name from the GGUF)")
    convert.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    convert.add_argument("--if-changed", action="store_true", help="do nothing when OUT already holds this conversion")

    hash_cmd = commands.add_parser("artifact-hash", help="print the artifact sha256 of an adapter or model directory")
    hash_cmd.add_argument("directory")

    bench = commands.add_parser("bench", help="base vs multi-adapter decode throughput -> JSON")
    bench.add_argument("--out", required=True)
    bench.add_argument("--preset", default="bench", choices=("tiny", "small", "bench"))
    bench.add_argument("--model", help="a model directory instead of the generated preset (e.g. the real model)")
    bench.add_argument("--batch", type=int, default=32)
    bench.add_argument("--rank", type=int, default=16)
    bench.add_argument("--steps", type=int, default=24, help="timed decode steps per repetition")
    bench.add_argument("--reps", type=int, default=3)
    bench.add_argument(
        "--cache-dir", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache")
    )
    _device_args(bench)

    scheduling = commands.add_parser(
        "bench-scheduling", help="KV blocks admitted (kv) and queue waits by adapter (fairness) -> JSON; no timing"
    )
    scheduling.add_argument("--out", required=True)
    scheduling.add_argument("--cache-dir", default=bench.get_default("cache_dir"))

    at_scale = commands.add_parser("bench-adapters", help="a thousand adapters: memory and cycling throughput -> JSON")
    at_scale.add_argument("--out", required=True)
    at_scale.add_argument("--sections", default="memory,cycling", help="comma-separated: memory, cycling")
    at_scale.add_argument("--adapters", type=int, default=1000)
    at_scale.add_argument("--requests", type=int, default=2048, help="cycling requests per case (16 rounds of 128)")
    at_scale.add_argument("--host-mb", type=int, default=64, help="host budget of the memory run and the cold case")
    at_scale.add_argument("--cache-dir", default=bench.get_default("cache_dir"))

    args = parser.parse_args(argv)
    if args.command == "artifact-hash":
        from .adapters import ARTIFACT_FILES, artifact_hash_of_dir, model_artifact_hash_of_dir

        is_lora = os.path.exists(os.path.join(args.directory, ARTIFACT_FILES[0]))
        print(artifact_hash_of_dir(args.directory) if is_lora else model_artifact_hash_of_dir(args.directory))
    elif args.command == "convert-gguf":
        import time

        from .adapters import model_artifact_hash_of_dir
        from .gguf_convert import convert_gguf, is_current

        started = time.perf_counter()
        if args.if_changed and is_current(args.out, args.gguf, args.name, args.dtype):
            status = "current"
        else:
            convert_gguf(args.gguf, args.out, args.name, args.dtype)
            status = "converted"
        summary = {"out": args.out, "status": status, "artifactHash": model_artifact_hash_of_dir(args.out)}
        print(json.dumps({**summary, "seconds": round(time.perf_counter() - started, 2)}))
    elif args.command == "generate-model":
        from .generate import generate_model

        config = generate_model(args.out, args.preset, args.seed, args.shards)
        print(json.dumps({"model": config.name, "out": args.out}))
    elif args.command == "generate-adapters":
        from .generate import generate_adapters

        shas = generate_adapters(
            args.model, args.out, args.count, args.rank, args.alpha, tuple(args.targets.split(",")), args.seed
        )
        print("\n".join(shas))
    elif args.command == "train-adapter":
        import torch

        torch.set_num_threads(args.threads)
        from .train import TrainConfig, parse_targets, read_files, read_spec, train_adapter

        log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        config = TrainConfig(
            rank=args.rank,
            alpha=args.alpha,
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
            targets=parse_targets(args.targets),
            seq_len=args.seq_len,
            holdout=args.holdout,
        )
        datasets = read_spec(args.spec) if args.spec else read_files(args.data)
        summary = train_adapter(args.model, datasets, args.out, config, log, args.base_artifact_hash)
        print(json.dumps(summary) if args.json else summary["sha256"])
    elif args.command == "serve":
        torch, dtype = _setup(args)
        from .server import Server, build_scheduler

        try:
            scheduler = build_scheduler(
                args.model,
                args.adapters,
                args.device,
                dtype,
                args.model_name,
                args.max_batch_size,
                args.max_seq_len,
                args.max_prefill_tokens,
                int(args.device_budget_mb * 2**20),
                int(args.host_budget_mb * 2**20),
                args.model_artifact_hash,
                kv_budget_bytes=args.kv_budget_mb and int(args.kv_budget_mb * 2**20),
                max_adapters_per_batch=args.max_adapters_per_batch,
                decode_reserve_tokens=args.decode_reserve_tokens,
                disk_cache_dir=args.disk_cache_dir,
                disk_budget_bytes=int(args.disk_cache_mb * 2**20),
            )
        except (OSError, ValueError, KeyError) as e:  # bad model dir, config, checkpoint or adapter source
            print(f"openpoa_engine: cannot start: {e!r}", file=sys.stderr)
            return 2
        Server(scheduler).run()
    elif args.command in ("bench", "bench-scheduling", "bench-adapters"):
        if args.command == "bench":
            torch, dtype = _setup(args)
            from .bench import run_bench

            result = run_bench(args, dtype)
        elif args.command == "bench-scheduling":
            from .bench import run_scheduling_bench

            result = run_scheduling_bench(args.cache_dir)
        else:
            import torch

            torch.set_num_threads(1)
            from .bench_adapters import run_bench_adapters

            args.sections = args.sections.split(",")
            result = run_bench_adapters(args)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
