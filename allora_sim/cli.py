"""Command-line entry points: ``allora-sim`` (run or sweep) and ``allora-sim-report``.

``allora-sim [key=value ...] [--multirun]`` composes the scenario with Hydra's compose API from
the structured configs (and ``configs/`` when present), validates it completely before the first
epoch, runs it and prints a short summary. Sweeps use Hydra's override grammar
(``mechanism.p_norm=2,3,4 seed=range(0,3)``); every combination is one job. Configuration
problems are reported in one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from allora_sim.config import ConfigError, config_dir, load_scenario, one_line, register_configs

__all__ = ["compose_scenario", "main", "report_main"]


def _cause_line(exc: BaseException) -> str:
    """A Hydra/OmegaConf composition error as one line naming the key, value and what is allowed.

    OmegaConf's own error (the one carrying ``full_key``) says what is wrong; Hydra's outer
    error adds the override and hints (``use +key=value to add a key``, available options).
    """
    chain = []
    e: BaseException | None = exc
    while e is not None:
        chain.append(e)
        e = e.__cause__ or e.__context__
    outer = str(chain[0]).strip().splitlines()
    keyed = next((x for x in chain if getattr(x, "full_key", None)), None)
    if keyed is not None:
        msg = str(keyed).strip().splitlines()[0]
        key = str(getattr(keyed, "full_key", ""))
        value = next((ln.split("override ", 1)[1] for ln in outer if "override " in ln), "")
        head = value if "=" in value else key
        line = f"{head}: {msg}"
        hint = next((ln.strip() for ln in outer if ln.strip().startswith("To append")), "")
        # only a behaviour's parameters take new keys (their defaults list some of them)
        if hint and ".params." in key:
            line += f" ({hint[0].lower()}{hint[1:]})"
        return line + _key_hint(keyed, key)
    text = str(chain[0]).strip()
    if "Available options" in text:
        head = text.splitlines()[0]
        opts = []
        for ln in text.splitlines()[1:]:
            if ln.startswith("\t") and "provider=" not in ln:
                opts.append(ln.strip())
            elif ln.startswith("Config search path"):
                break
        return f"{head}; available: {', '.join(opts)}"
    line = one_line(chain[0])
    if "NoViableAlt" in line or "no viable alternative" in line or "Error parsing override" in line:
        line += (
            " (overrides are key=value in Hydra's grammar; quote a value holding spaces, "
            "brackets or non-ASCII characters: name='données')"
        )
    return line


def _key_hint(err: BaseException, full_key: str) -> str:
    """A hint for a key the schema does not have: the nearest field name, or how to add a
    group to a population list (an index past its end)."""
    obj_type, name = getattr(err, "object_type", None), getattr(err, "key", None)
    if is_dataclass(obj_type) and isinstance(name, str):
        names = [f.name for f in fields(obj_type)]
        near = [] if name in names else difflib.get_close_matches(name, names, n=1)
        parent = full_key.rpartition(".")[0]
        return f" (did you mean {parent + '.' if parent else ''}{near[0]}?)" if near else ""
    if obj_type is list and full_key.startswith("population."):
        role = full_key.split(".")[1].split("[")[0]
        return (
            f" (population.{role} has no group {name}: to add groups give the whole list, "
            f"population.{role}=[{{name: a, behaviour: …, count: …}}, {{name: b, …}}])"
        )
    return ""


def compose_scenario(overrides: Sequence[str], config_path: str | None = None) -> Any:
    """Compose the config for ``overrides`` (a ``DictConfig``); raises :class:`ConfigError`."""
    from hydra import compose, initialize, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    cdir = Path(config_path) if config_path else config_dir()
    if config_path and not (cdir and cdir.is_dir()):
        raise ConfigError(f"--config-dir={config_path!r} is not a directory")
    GlobalHydra.instance().clear()
    try:
        if cdir is not None and (cdir / "config.yaml").is_file():
            with initialize_config_dir(config_dir=str(cdir.resolve()), version_base="1.3"):
                return compose(config_name="config", overrides=list(overrides))
        with initialize(version_base="1.3", config_path=None):
            return compose(config_name="schema", overrides=list(overrides))
    except ConfigError:
        raise
    except Exception as exc:  # hydra/omegaconf composition and override errors
        raise ConfigError(_cause_line(exc)) from None


def expand_sweep(overrides: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """All combinations of the sweep overrides (Hydra grammar), in order, and the swept keys."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception as exc:
        raise ConfigError(_cause_line(exc)) from None
    choices = []
    swept = []
    seen: dict[str, str] = {}
    for ov in parsed:
        key = ov.get_key_element()
        bare = key.lstrip("+~")
        if bare in seen:
            raise ConfigError(
                f"{ov.input_line}: {bare} is already given ({seen[bare]}); give each key once"
            )
        seen[bare] = ov.input_line or key
        if ov.is_sweep_override():
            try:  # interval(), glob() … are not lists of values
                values = list(ov.sweep_string_iterator())
            except Exception:
                raise ConfigError(
                    f"{ov.input_line}: a sweep here is a list of values (a,b,c), range() or "
                    "choice()"
                ) from None
            if not values:
                raise ConfigError(f"{ov.input_line}: the sweep has no values")
            choices.append([f"{key}={v}" for v in values])
            swept.append(key)
        else:
            choices.append([ov.input_line or f"{key}={ov.value()}"])
    return [list(combo) for combo in itertools.product(*choices)], swept


def _no_sweep(overrides: Sequence[str]) -> None:
    """A sweep (``seed=0,1``) without ``--multirun`` is one line saying so."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:
        return  # composing reports the syntax error
    for ov in parsed:
        if ov.is_sweep_override():
            raise ConfigError(f"{ov.input_line} is a sweep: run it with --multirun")


def _default_dir(kind: str, name: str) -> Path:
    """A new directory named by the start time (``_2``, ``_3``, … when runs start together)."""
    from allora_sim.runner.io import fresh_dir

    return fresh_dir(Path(kind) / name / time.strftime("%Y-%m-%d_%H-%M-%S"))


def _print_summary(name: str, summary: dict[str, Any], path: Path) -> None:
    s = summary
    print(
        f"{name}: {s['epochs']} epochs, {s['topics']} topic(s), {s['wall_seconds']:.1f} s "
        f"({s['epochs'] / max(s['wall_seconds'], 1e-9):,.0f} epochs/s)"
    )
    print(
        f"  log10 loss    network {s['network_loss']:.3f} | naive {s['naive_loss']:.3f} | "
        f"best inferer {s['best_inferer_loss']:.3f} | "
        f"median inferer {s['median_inferer_loss']:.3f}"
    )
    if "topic_epochs" in s:
        why = ", ".join(f"{k} {v:,}" for k, v in s.get("unrewarded", {}).items())
        print(
            f"  rewarded      {s['rewarded_epochs']:,} of {s['topic_epochs']:,} topic-epochs"
            + (f" (unrewarded: {why})" if why else "")
        )
    share = s["reward_share"]
    print("  reward share  " + " | ".join(f"{k} {100 * v:.1f}%" for k, v in share.items()))
    if "reward_gini" in s:
        g = s["reward_gini"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in g.items() if k != "all")
        print(f"  reward Gini   {g['all']:.2f} ({parts})")
    print(f"results: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``allora-sim``: run the default scenario, or the one the overrides describe."""
    try:
        return _main(argv)
    except BrokenPipeError:  # output piped to a reader that stopped (allora-sim --cfg | head)
        sys.stdout = open(os.devnull, "w")  # nothing more is written
        return 0
    except KeyboardInterrupt:  # at any moment: while composing, validating or running
        print(
            "\nallora-sim: interrupted (no complete table was left half-written)", file=sys.stderr
        )
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="allora-sim",
        description="Run an allora_sim scenario. Overrides use Hydra syntax, e.g. "
        "scenario=context epochs=200 mechanism.p_norm=3.5 population.inferers.0.count=10",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides (Hydra grammar)")
    parser.add_argument(
        "-m",
        "--multirun",
        action="store_true",
        help="sweep: run every combination of comma-separated/range values",
    )
    parser.add_argument(
        "--config-dir",
        default=None,
        help="directory of YAML configs (default: the checkout's configs/)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run sweep jobs over this many processes (results are identical)",
    )
    parser.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    args = parser.parse_intermixed_args(argv)
    if args.processes < 1:
        parser.error(f"--processes={args.processes} is invalid: must be >= 1")
    from omegaconf import OmegaConf

    from allora_sim.runner import Job, run_jobs, run_scenario

    if args.processes > 1 and not args.multirun:
        parser.error(f"--processes={args.processes} runs the jobs of a sweep: add --multirun")
    try:
        for ov in args.overrides:
            if ov.startswith("~"):
                raise ConfigError(f"{ov}: the scenario's keys cannot be deleted; set a value")
        if not args.multirun:
            _no_sweep(args.overrides)
        combos, swept = (
            expand_sweep(args.overrides) if args.multirun else ([list(args.overrides)], [])
        )
        scenarios = []
        for combo in combos:
            cfg = compose_scenario(combo, args.config_dir)
            scenarios.append((combo, cfg, load_scenario(cfg)))
    except ConfigError as exc:
        print(f"allora-sim: error: {exc}", file=sys.stderr)
        return 2
    if args.cfg:
        for _, cfg, _ in scenarios:
            print(OmegaConf.to_yaml(cfg))
        return 0
    try:
        if not args.multirun:
            combo, _, scenario = scenarios[0]
            out = (
                Path(scenario.output.dir)
                if scenario.output.dir
                else _default_dir("outputs", scenario.name)
            )
            summary = run_scenario(scenario, out, overrides=combo)
            _print_summary(scenario.name, summary, out)
            return 0
        first = scenarios[0][2]
        root = Path(first.output.dir) if first.output.dir else _default_dir("multirun", first.name)
        jobs = [
            Job(i, tuple(o for o in combo if o.split("=", 1)[0] in swept) or tuple(combo), sc)
            for i, (combo, _, sc) in enumerate(scenarios)
        ]
        print(f"sweep of {len(jobs)} runs over {', '.join(swept) or '(no swept keys)'} → {root}")

        def done(res: dict[str, Any]) -> None:
            s = res["summary"]
            print(
                f"  run {res['run']} {' '.join(res['overrides'])}: network "
                f"{s['network_loss']:.3f}, naive {s['naive_loss']:.3f}, best inferer "
                f"{s['best_inferer_loss']:.3f}"
            )

        run_jobs(jobs, root, processes=args.processes, on_done=done)
        print(f"results: {root}")
        return 0
    except (ConfigError, ValueError, OSError) as exc:
        print(f"allora-sim: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(
            f"allora-sim: error: not enough memory for this scenario ({one_line(exc)}): lower "
            "epochs, n_topics or the population counts",
            file=sys.stderr,
        )
        return 2


def report_main(argv: Sequence[str] | None = None) -> int:
    """``allora-sim-report PATH``: figures (PNG) for a run or a sweep directory."""
    parser = argparse.ArgumentParser(
        prog="allora-sim-report",
        description="Make figures (PNG) from a run directory or a sweep (multirun) directory.",
    )
    parser.add_argument("path", help="run directory (epochs.parquet) or sweep (sweep.json)")
    parser.add_argument("--out", default=None, help="where to write figures (default: PATH)")
    args = parser.parse_args(argv)
    from allora_sim.report import make_report

    try:
        files = make_report(Path(args.path), Path(args.out) if args.out else None)
    except (OSError, ValueError) as exc:
        print(f"allora-sim-report: error: {exc}", file=sys.stderr)
        return 2
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
