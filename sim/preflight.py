"""The check before Hydra runs: every run a command would start, checked in seconds.

A sweep is checked without running Hydra's sweeper (nor its private API), so that every
sweeper's syntax passes: ``a,b``, ``choice()``, ``range()``, ``interval()``, ``tag()`` and
``glob()``. The check works in three steps:

1. each combination of the swept config groups (``strategy``, ``experiment``, ``market``...)
   is composed once and fully checked (``experiment_spec``);
2. each value of each swept setting is checked once: its type by the structured config,
   its range by ``PARAMS`` (intervals by their two ends);
3. the cross-field rules (``params.BELOW``: a < b) are checked arithmetically on every
   combination of the swept values, for every arm.

A sweep of 10,000 combinations is thus checked in well under a second plus one
composition per group combination, and a bad value stops with one line naming it.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from omegaconf import OmegaConf

from .events import check_writable
from .params import BELOW, PARAMS, ParameterError
from .schema import GROUPS, LIMITS, BehaviourConfig, EconomicsConfig, MarketConfig, RapportConfig, experiment_spec, run_name
from .strategies import is_strategy_path, load_strategy_file, yaml_error_line

# Flags that only show information: Hydra handles them, nothing runs.
INFO_FLAGS = ("help", "hydra_help", "info", "cfg", "shell_completion", "config_path", "resolve")


def hydra_arguments(argv: list[str]) -> argparse.Namespace:
    """Hydra's command line, as ``hydra.main`` reads it (the same flags, parsed here)."""
    args, _ = _parser().parse_known_args(argv)
    return args


def _parser() -> argparse.ArgumentParser:
    """A parser of ``hydra.main``'s flags."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--help", "-h", action="store_true")
    p.add_argument("--hydra-help", action="store_true")
    p.add_argument("--version", action="store_true")
    p.add_argument("--cfg", "-c", choices=["job", "hydra", "all"])
    p.add_argument("--resolve", action="store_true")
    p.add_argument("--package", "-p")
    p.add_argument("--run", "-r", action="store_true")
    p.add_argument("--multirun", "-m", action="store_true")
    p.add_argument("--shell-completion", "-sc", action="store_true")
    p.add_argument("--config-path", "-cp")
    p.add_argument("--config-name", "-cn")
    p.add_argument("--config-dir", "-cd")
    p.add_argument("--experimental-rerun")
    p.add_argument("--info", "-i", nargs="?", const="all")
    return p


@dataclass
class Swept:
    """One key of the command line: its values (several when swept), as text and as parsed values."""

    key: str  # e.g. market.customers, with the + or ~ prefix in ``prefix``
    prefix: str
    texts: list[str]  # each value as Hydra would write it in the job's override
    values: list[Any]  # parsed values (for an interval: its two ends)
    interval: bool = False
    enumerable: bool = True  # False for glob(): only Hydra knows its values

    def override(self, i: int) -> str:
        return f"{self.prefix}{self.key}={self.texts[i]}"


def _swept(o: Any, loader: Any, groups: set[str]) -> Swept:
    """A parsed Hydra override as a ``Swept`` (``glob()`` of a config group expanded to its options)."""
    key = o.get_key_element()
    prefix = {"ADD": "+", "FORCE_ADD": "++", "DEL": "~"}.get(o.type.name, "")
    if o.type.name == "DEL":
        return Swept(key, prefix, [], [])
    if o.is_interval_sweep():
        v = o.value()
        return Swept(key, prefix, [], [v.start, v.end], interval=True)
    if o.is_sweep_override():
        if o.value_type.name == "GLOB_CHOICE_SWEEP":
            if key not in groups:
                return Swept(key, prefix, [], [], enumerable=False)
            names = o.value().filter(loader.get_group_options(key))
            return Swept(key, prefix, names, names)
        return Swept(key, prefix, list(o.sweep_string_iterator()), list(o.sweep_iterator()))
    text = o.input_line.split("=", 1)[1] if "=" in o.input_line else ""
    return Swept(key, prefix, [text], [o.value()])


def _parameter(key: str) -> str | None:
    """The PARAMS name of ``group.name`` keys (``market.customers`` -> ``customers``), else None."""
    group, _, name = key.partition(".")
    if group in GROUPS and name in PARAMS and PARAMS[name].group in GROUPS[group]:
        return name
    return None


def preflight(argv: list[str], config_dir: Path) -> None:
    """Compose and check every run the command would start; raise ParameterError if one is bad.

    Flags that only show information (``--help``, ``--cfg``...) or pick another primary
    config are left to Hydra, and so are Hydra's own settings (``hydra.*``, ``hydra/...``).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = hydra_arguments(argv)
    if args.version or any(getattr(args, flag, None) for flag in INFO_FLAGS):
        return
    if args.config_name not in (None, "config"):
        return
    _check_launcher(args.overrides)
    hydra_own = [o for o in args.overrides if o.lstrip("+~").startswith("hydra")
                 and not o.startswith("hydra.searchpath")]
    own = [o for o in args.overrides if o not in hydra_own]
    if args.config_dir and not any(o.startswith("hydra.searchpath") for o in own):
        own.append(f"hydra.searchpath=[file://{Path(args.config_dir).resolve()}]")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(config_dir), version_base="1.3", job_name="rapport"):
            if not args.multirun:
                _check(compose("config", overrides=own, return_hydra_config=True))
                return
            loader = GlobalHydra.instance().config_loader()
            groups = set(loader.list_groups(""))
            parsed = [_swept(o, loader, groups)
                      for o in OverridesParser.create(config_loader=loader).parse_overrides(own)]
            _check_sweep(parsed, groups, lambda overrides: compose("config", overrides=overrides,
                                                                   return_hydra_config=True))
    except ParameterError:
        raise
    except Exception as err:  # Hydra and OmegaConf errors: turn them into one line
        raise ParameterError(one_line(err)) from None
    finally:
        GlobalHydra.instance().clear()


def _check_launcher(overrides: list[str]) -> None:
    """Rapport's launcher's setting (``hydra.launcher.processes``), checked by the launcher's
    own rule, which Hydra would report in several lines."""
    from .launcher import check_processes

    launcher = next((o.partition("=")[2] for o in overrides if o.startswith("hydra/launcher=")), "rapport")
    for o in overrides:
        key, _, value = o.partition("=")
        if launcher == "rapport" and key == "hydra.launcher.processes":
            try:
                check_processes(int(value) if re.fullmatch(r"\s*\d+\s*", value) else value, given=value)
            except ValueError as err:
                raise ParameterError(str(err)) from None


def _check(cfg: Any) -> Any:
    """The full check of one composed config (as a run would do it); returns its spec."""
    choices = cfg.hydra.runtime.choices
    if choices.get("strategy") is not None:  # its file checked as a file, so that every error names it
        load_strategy_file(_strategy_file(cfg, choices.get("strategy")))
    spec = experiment_spec(cfg, run_name(choices.get("experiment"), choices.get("strategy")))
    if spec.events:  # the event log goes into the run's folder: fail now, not after the run
        check_writable(Path(str(cfg.results_dir)), create=False)
    return spec


def _strategy_file(cfg: Any, choice: str) -> Path:
    """The file Hydra read for ``strategy=choice``: the first folder of the search path that has it."""
    for source in cfg.hydra.runtime.config_sources:
        path = Path(source.path) / "strategy" / f"{choice}.yaml"
        if source.schema == "file" and path.is_file():
            return path
    raise ParameterError(f"strategy={choice}: file not found")  # Hydra found it: only if removed since


def _check_sweep(parsed: list[Swept], groups: set[str], compose: Any) -> None:
    """The three steps of the module docstring."""
    fixed = [s for s in parsed if len(s.texts) <= 1 and not s.interval and s.enumerable]
    group_sweeps = [s for s in parsed if s.key in groups and len(s.texts) > 1]
    settings = [s for s in parsed if s.key not in groups and (len(s.texts) > 1 or s.interval)]
    base = [s.override(0) if s.texts else f"{s.prefix}{s.key}" for s in fixed]
    # 1. each combination of swept groups, composed once, settings at their first value
    first = [s.override(0) for s in settings if s.texts]
    specs = []
    for combo in itertools.product(*[range(len(s.texts)) for s in group_sweeps]):
        chosen = [s.override(i) for s, i in zip(group_sweeps, combo)]
        cfg = compose(base + chosen + first)
        specs.append((cfg, _check(cfg), chosen))
    # 2. each value of each swept setting, once
    checked: dict[str, list] = {}
    for s in settings:
        checked[s.key] = [_check_value(s, i, compose, base + specs[0][2]) for i in range(len(s.values))]
    # 3. cross-field rules on every combination, for every arm
    for cfg, spec, chosen in specs:
        for arm_index, arm in enumerate(spec.arms):
            raw = (OmegaConf.to_container(cfg.experiment.arms[arm_index].params)
                   if cfg.get("strategy") is None and len(cfg.experiment.arms) > arm_index else {}) or {}
            _check_relations(arm.params, raw, checked, arm.name if len(spec.arms) > 1 else None)


def _check_value(s: Swept, i: int, compose: Any, base: list[str]) -> Any:
    """One value of a swept setting, checked alone; returns it as the run would see it."""
    value, name = s.values[i], _parameter(s.key)
    shown = f"{s.key}={s.texts[i]}" if s.texts else f"{s.key}={value:g} (an end of interval)"
    if s.interval and (name is None or PARAMS[name].kind is not float):
        kind = "whole-number" if (name and PARAMS[name].kind is int) or s.key in LIMITS else "non-numeric"
        raise ParameterError(f"{s.key}=interval(...): an interval draws real numbers, but {s.key} is a {kind} "
                             f"setting; sweep it with range(...) or choice(...)")
    if name is not None:
        group = s.key.partition(".")[0]
        try:
            node = _node(group)
            node[name] = value  # the structured config's type check and conversion, as Hydra does it
            return PARAMS[name].check(node[name])
        except ParameterError as err:
            raise ParameterError(f"{group}.{err}") from None
        except Exception as err:
            raise ParameterError(f"{shown}: {one_line(err)}") from None
    if s.key in LIMITS and not s.interval:
        node = _node("")
        try:
            node[s.key] = value
        except Exception as err:
            raise ParameterError(f"{shown}: {one_line(err)}") from None
        lo, hi = LIMITS[s.key]
        v = node[s.key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ParameterError(f"{s.key}={v!r}: expected a whole number in [{lo}, {hi}]")
        return v
    return _check(compose(base + [s.override(i)]))  # anything else: composed and checked in full


_NODES: dict[str, Any] = {}
_CLASSES = {"": RapportConfig, "market": MarketConfig, "behaviour": BehaviourConfig, "economics": EconomicsConfig}


def _node(group: str) -> Any:
    """A scratch structured config of a group ("" for the top level): values set on it are
    type-checked and converted as Hydra would."""
    if group not in _NODES:
        _NODES[group] = OmegaConf.structured(_CLASSES[group])
    return _NODES[group]


def _check_relations(params: dict, arm_overrides: dict, checked: dict[str, list], arm: str | None) -> None:
    """Each rule a < b of ``params.BELOW`` on every pair of swept values (the arm's own values win)."""
    def values(name: str) -> tuple[str, np.ndarray]:
        key = next((k for k in checked if _parameter(k) == name), None)
        if key is None or name in arm_overrides:
            where = f"experiment.arms[{arm}].params.{name}" if name in arm_overrides else _key_of(name)
            return where, np.array([params[name]], dtype=float)
        return key, np.array(checked[key], dtype=float)

    for low, high in BELOW:
        (ka, a), (kb, b) = values(low), values(high)
        bad = np.argwhere(~np.less.outer(a, b))
        if bad.size:
            i, j = bad[0]
            where = f" (arm {arm})" if arm else ""
            raise ParameterError(f"{ka}={_num(a[i])}: must be below {kb}={_num(b[j])}{where}; "
                                 f"{len(bad)} of {a.size * b.size} value pairs of the sweep break this rule")


def _key_of(name: str) -> str:
    return next(f"{g}.{name}" for g, members in GROUPS.items() if PARAMS[name].group in members)


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else f"{int(x)}"


def one_line(err: BaseException) -> str:
    """A Hydra/OmegaConf/model error as one line naming the field and what is allowed (a
    YAML syntax error as ``<file>:<line>:<col>: <problem>``)."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    if isinstance(err, ParameterError):
        return str(err)
    chained: BaseException | None = err
    while chained is not None:
        if isinstance(chained, yaml.MarkedYAMLError):
            return yaml_error_line(chained)
        chained = chained.__cause__ or chained.__context__
    if isinstance(err, MissingConfigException) and err.missing_cfg_file and err.options:
        group, _, name = str(err.missing_cfg_file).rpartition("/")
        return f"{group}={name}: unknown{_did_you_mean(name, err.options, group + '=')}, " \
               f"allowed are {', '.join(sorted(err.options))}"
    cause = err.__cause__
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and cause.full_key:
        group, _, key = str(cause.full_key).partition(".")
        if group in GROUPS and key:
            allowed = [p.name for p in PARAMS.values() if p.group in GROUPS[group]]
            return (f"{cause.full_key}: unknown parameter{_did_you_mean(key, allowed, group + '.')}, "
                    f"allowed in {group} are {', '.join(allowed)}")
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    first = first.removeprefix("Error merging override ")
    if cause is not None and str(cause).strip():
        first = f"{first.rstrip('.')}: {str(cause).strip().splitlines()[0]}"
    return first


def _did_you_mean(word: str, known: Any, prefix: str = "") -> str:
    """``" (did you mean market.customers?)"`` for the closest known names, or ``""``."""
    close = difflib.get_close_matches(word, list(known), n=2, cutoff=0.75)
    return f" (did you mean {' or '.join(prefix + c for c in close)}?)" if close else ""


THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")  # 20,000 or 1,500,000.5


def check_slips(argv: list[str], multirun: bool) -> None:
    """Common slips on the command line, each refused with a hint before Hydra reads it:
    ``customers=2000`` (a parameter without its group), ``--customers 2000`` (an option
    that does not exist), ``market.customers=20,000`` (a thousands separator) and a
    misspelt setting.

    Raises:
        ParameterError: one line naming the slip and what to write instead.
    """
    _, unknown = _parser().parse_known_args(argv)
    top = {f.name for f in dataclasses.fields(RapportConfig)}
    for item in unknown:
        if item.startswith("-"):
            name = item.lstrip("-").partition("=")[0].replace("-", "_")
            at = argv.index(item)
            value = item.partition("=")[2] or (argv[at + 1] if at + 1 < len(argv) else "VALUE")
            key = _full_key(name) or (name if name in top else None)
            hint = f"write {key}={value}" if key else "settings are written key=value, e.g. market.customers=2000"
            raise ParameterError(f"{item}: not an option of rapport; {hint} (rapport --help lists the options)")
    for item in argv:
        if item.startswith("-") or "=" not in item:
            continue
        raw_key, _, value = item.partition("=")
        key = raw_key.lstrip("+~")
        if key.startswith("hydra") or "." in key or key in top:
            if _thousands(key, value, multirun):
                raise ParameterError(f"{key}={value}: write {value.replace(',', '')}, without the thousands "
                                     f"separator (a comma separates the values of a sweep)")
            continue
        full = _full_key(key)
        if full:
            raise ParameterError(f"{key}={value}: unknown setting; did you mean {full}={value}?")
        known = sorted(top | {_full_key(n) for n in PARAMS if _full_key(n)})
        close = _did_you_mean(key, known)
        if close:
            raise ParameterError(f"{key}={value}: unknown setting{close}")


def _full_key(name: str) -> str | None:
    """``customers`` -> ``market.customers``: a parameter with its config group; else None."""
    if name not in PARAMS:
        return None
    return next((f"{g}.{name}" for g, members in GROUPS.items() if PARAMS[name].group in members), None)


def _thousands(key: str, value: str, multirun: bool) -> bool:
    """Whether ``value`` looks like a number with thousands separators (``20,000``). In a
    sweep ``a,b`` lists values, so there only a part such as ``000`` (a leading zero) counts."""
    if not THOUSANDS.match(value.strip()):
        return False
    return not multirun or any(part.startswith("0") for part in value.split(",")[1:])


def strategy_paths(argv: list[str], folder: Path) -> list[str]:
    """``strategy=./my.yaml`` (or an absolute path; in a sweep ``strategy=lifecycle,./my.yaml``)
    as Hydra can read it: each file is checked, copied into ``folder/strategy/`` under its
    file name, and the override names that copy. The caller puts ``folder`` first in Hydra's
    search path and removes it after the run.

    Returns:
        ``argv`` with every strategy path replaced by its name.

    Raises:
        ParameterError: a missing or invalid file (one line naming it), or two strategies of
            one command with the same name.
    """
    out = []
    for item in argv:
        key, eq, value = item.partition("=")
        if key != "strategy" or not eq or not any(is_strategy_path(v) for v in value.split(",")):
            out.append(item)
            continue
        names = [_copy_strategy(v, folder) if is_strategy_path(v) else v for v in value.split(",")]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ParameterError(f"{item}: two strategies named {twice[0]} in one command; rename one file")
        out.append(f"strategy={','.join(names)}")
    return out


def _copy_strategy(value: str, folder: Path) -> str:
    """Check the strategy file ``value`` and copy it (its name set) into ``folder/strategy/``."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ParameterError(f"strategy={value}: file not found")
    policy = load_strategy_file(path)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "strategy"
    target = folder / "strategy" / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({**policy.spec, "name": policy.name}, sort_keys=False))
    return name
