"""The router's TOML configuration: loaded, validated, and turned into the core's policy dict.

A config file describes one routing domain (the whole 27+1 network) as seen by one router:

    [router]            centre = "hq"                       this router's own centre
    [[classes]]         name, base, ageing                  caller classes
    [[queues]]          name, weight, aht, required = { skill = level }
      [[queues.steps]]  after, scope, level_delta, preferred_only   relaxation steps
    [regions]           region = ["centre", ...]
    [skill_weights]     skill = weight
    [selection]         strategy = "weighted", idle, talk, skill, home
    [[centres]]         name, region, lines, dialects, [centres.line_shares] class = { min, max }
    [[agents]]          id, centre, skills = { skill = level }, max_calls
    [[rosters]]         centre, prefix, count, skills, max_calls   (agents prefix-0001, ...)
                        or centres = [...]: each centre gets <centre>-prefix-0001, ...
    [customers]         file = "customers.csv"              (used by a later issue)

The routing semantics of every field are in `docs/routing-policy.md`. Every problem is reported with
the file, the key (e.g. `queues[2].steps[1].scope`), what is wrong and how to fix it; unknown keys
are errors, so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router._core import Core, CoreError, PolicyError

__all__ = [
    "Agent",
    "Centre",
    "ClassSpec",
    "Config",
    "ConfigError",
    "LineShare",
    "QueueSpec",
    "Selection",
    "Step",
    "load_config",
    "parse_config",
]

SCOPES = ("centre", "region", "any")
STRATEGIES = ("longest_idle", "least_occupied", "highest_proficiency", "weighted")
SELECTION_WEIGHTS = ("idle", "talk", "skill", "home")
MAX_LEVEL = 10


class ConfigError(ValueError):
    """A config file is unreadable or invalid.

    `problems` holds every `(key, message)` found (key "" for the file as a whole); `str()` renders
    one line per problem, each starting with the file name.
    """

    def __init__(self, path: Path, problems: Iterable[tuple[str, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(
            "\n".join(
                f"{path}: {key}: {msg}" if key else f"{path}: {msg}" for key, msg in self.problems
            )
        )


@dataclass(frozen=True)
class ClassSpec:
    """A caller class: its base priority and how fast its priority grows while waiting."""

    name: str
    base: float
    ageing: float


@dataclass(frozen=True)
class Step:
    """One relaxation step of a queue, with the fields inherited from earlier steps filled in."""

    after: float
    scope: str
    level_delta: int
    preferred_only: bool


@dataclass(frozen=True)
class QueueSpec:
    """A queue: default required skills (in table order) and its relaxation steps."""

    name: str
    weight: float
    aht: float
    required: tuple[tuple[str, int], ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Selection:
    """How the best agent is chosen (see "Agent score" in docs/routing-policy.md)."""

    strategy: str = "longest_idle"
    idle: float = 0.0
    talk: float = 0.0
    skill: float = 0.0
    home: float = 0.0


@dataclass(frozen=True)
class LineShare:
    """The share (0..1) of a centre's trunk lines that one caller class is guaranteed / limited to."""

    min: float = 0.0
    max: float = 1.0


@dataclass(frozen=True)
class Centre:
    """A call centre site. `region` is None when the centre is its own region."""

    name: str
    region: str | None
    lines: int
    line_shares: Mapping[str, LineShare]
    dialects: tuple[str, ...]


@dataclass(frozen=True)
class Agent:
    """An agent as configured; `origin` is the config key that produced it (for messages)."""

    id: str
    centre: str
    skills: Mapping[str, int]
    max_calls: int = 1
    origin: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Config:
    """A validated configuration. `policy()` gives the plain dict that `router._core.Core` takes."""

    path: Path
    centre: str
    classes: tuple[ClassSpec, ...]
    queues: tuple[QueueSpec, ...]
    regions: Mapping[str, tuple[str, ...]]
    skill_weights: Mapping[str, float]
    selection: Selection
    centres: tuple[Centre, ...]
    agents: tuple[Agent, ...]
    customers_file: Path | None = None
    warnings: tuple[str, ...] = ()

    def policy(self) -> dict[str, Any]:
        """The routing policy in the exact shape of docs/routing-policy.md."""
        selection: dict[str, Any] = {"strategy": self.selection.strategy}
        if self.selection.strategy == "weighted":
            selection.update(
                idle=self.selection.idle,
                talk=self.selection.talk,
                skill=self.selection.skill,
                home=self.selection.home,
            )
        else:
            selection["home"] = self.selection.home
        return {
            "classes": [{"name": c.name, "base": c.base, "ageing": c.ageing} for c in self.classes],
            "queues": [
                {
                    "name": q.name,
                    "weight": q.weight,
                    "aht": q.aht,
                    "required": [[skill, level] for skill, level in q.required],
                    "steps": [
                        {
                            "after": s.after,
                            "scope": s.scope,
                            "level_delta": s.level_delta,
                            "preferred_only": s.preferred_only,
                        }
                        for s in q.steps
                    ],
                }
                for q in self.queues
            ],
            "regions": {region: list(names) for region, names in self.regions.items()},
            "skill_weights": dict(self.skill_weights),
            "selection": selection,
        }

    def build_core(self) -> Core:
        """A core with this policy and every configured agent added (all still logged out).

        Errors of the core are re-raised as ConfigError naming this file and the offending key.
        """
        try:
            core = Core(self.policy())
        except PolicyError as exc:
            raise ConfigError(
                self.path, [("", f"the routing core rejects the policy: {exc}")]
            ) from exc
        for agent in self.agents:
            try:
                core.add_agent(
                    agent.id, agent.centre, dict(agent.skills), max_calls=agent.max_calls
                )
            except CoreError as exc:
                raise ConfigError(
                    self.path,
                    [(agent.origin, f"the routing core rejects agent {agent.id!r}: {exc}")],
                ) from exc
        return core

    def queue(self, name: str) -> QueueSpec:
        """The queue called `name` (KeyError if there is none)."""
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def agents_by_centre(self) -> dict[str, list[Agent]]:
        """Agents grouped by centre, in the order of `centres` (empty lists included)."""
        grouped: dict[str, list[Agent]] = {c.name: [] for c in self.centres}
        for agent in self.agents:
            grouped[agent.centre].append(agent)
        return grouped

    def can_staff(self, queue: QueueSpec, agent: Agent, *, relaxed: bool = False) -> bool:
        """Whether `agent` has every required skill of `queue` (at the last step's level if
        `relaxed`, else at the configured level)."""
        delta = queue.steps[-1].level_delta if relaxed else 0
        return all(
            skill in agent.skills and agent.skills[skill] >= max(0, level - delta)
            for skill, level in queue.required
        )


def load_config(path: str | os.PathLike[str], *, check_core: bool = True) -> Config:
    """Read and validate a TOML config file.

    With `check_core` (the default) the routing core also validates the policy and the agents.
    Raises ConfigError naming the file and every offending key.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, [("", "no such file; check the path")]) from None
    except OSError as exc:
        raise ConfigError(file, [("", f"cannot read: {exc.strerror}")]) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            file, [("", f"not UTF-8 text (byte {exc.start}); save it as UTF-8")]
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(file, exc) from exc
    config = parse_config(data, file)
    if check_core:
        config.build_core()
    return config


def _syntax_error(file: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """Render tomllib's "msg (at line L, column C)" as "file:L:C: TOML syntax error: msg"."""
    text = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if match is None:
        return ConfigError(file, [("", f"TOML syntax error: {text}")])
    line, column = match.group(1), match.group(2)
    return ConfigError(
        Path(f"{file}:{line}:{column}"),
        [("", f"TOML syntax error: {text[: match.start()]}")],
    )


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate already-parsed TOML data; `path` is used in messages and to resolve file paths."""
    return _Parser(path).parse(data)


_TOP_KEYS = (
    "router",
    "classes",
    "queues",
    "regions",
    "skill_weights",
    "selection",
    "centres",
    "agents",
    "rosters",
    "customers",
)


class _Parser:
    """Walks the TOML data once, collecting every problem instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def error(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.path}: {key}: {message}")

    # -- the whole file ------------------------------------------------------------------------

    def parse(self, data: Mapping[str, Any]) -> Config:
        top = self.table(data, "", _TOP_KEYS, required=("router", "classes", "queues", "centres"))
        if top is None:  # pragma: no cover - tomllib always returns a table
            raise ConfigError(self.path, self.problems)
        classes = self.parse_classes(top.get("classes"))
        class_names = {c.name for c in classes}
        queues = self.parse_queues(top.get("queues"))
        centres = self.parse_centres(top.get("centres"), class_names)
        centre_names = [c.name for c in centres]
        regions = self.parse_regions(top.get("regions", {}), centres)
        centres = tuple(
            Centre(c.name, _region_of(c.name, regions), c.lines, c.line_shares, c.dialects)
            for c in centres
        )
        skill_weights = self.parse_skill_weights(top.get("skill_weights", {}))
        selection = self.parse_selection(top.get("selection", {}))
        agents = self.parse_agents(top.get("agents", []), top.get("rosters", []), set(centre_names))
        router_centre = self.parse_router(top.get("router"), centre_names)
        customers = self.parse_customers(top.get("customers"))
        if self.problems:
            raise ConfigError(self.path, self.problems)
        config = Config(
            path=self.path,
            centre=router_centre,
            classes=classes,
            queues=queues,
            regions=regions,
            skill_weights=skill_weights,
            selection=selection,
            centres=centres,
            agents=agents,
            customers_file=customers,
        )
        self.check_staffing(config)
        return dataclasses.replace(config, warnings=tuple(self.warnings))

    # -- sections -------------------------------------------------------------------------------

    def parse_router(self, value: Any, centre_names: list[str]) -> str:
        router = self.table(value, "router", ("centre",), required=("centre",))
        if router is None or "centre" not in router:
            return ""
        centre = self.string(router, "router", "centre")
        if centre is not None and centre_names and centre not in centre_names:
            self.error(
                "router.centre", f"unknown centre {centre!r}; {_choices(centre, centre_names)}"
            )
        return centre or ""

    def parse_classes(self, value: Any) -> tuple[ClassSpec, ...]:
        result: list[ClassSpec] = []
        seen: set[str] = set()
        for key, item in self.array_of_tables(value, "classes"):
            tbl = self.table(
                item, key, ("name", "base", "ageing"), required=("name", "base", "ageing")
            )
            if tbl is None:
                continue
            name = self.name(tbl, key, "name", seen, "class")
            base = self.number(tbl, key, "base")
            if base is not None and base < 0:
                self.error(
                    f"{key}.base",
                    f"must be >= 0, not {base:g}; give the lowest class base 0 and the others more",
                )
                base = None
            ageing = self.number(tbl, key, "ageing")
            if ageing is not None and ageing <= 0:
                self.error(
                    f"{key}.ageing",
                    f"must be > 0, not {ageing:g} (zero ageing lets calls starve); use e.g. 1.0",
                )
            if name is not None and base is not None and ageing is not None and ageing > 0:
                result.append(ClassSpec(name, base, ageing))
        return tuple(result)

    def parse_queues(self, value: Any) -> tuple[QueueSpec, ...]:
        result: list[QueueSpec] = []
        seen: set[str] = set()
        allowed = ("name", "weight", "aht", "required", "steps")
        for key, item in self.array_of_tables(value, "queues"):
            tbl = self.table(item, key, allowed, required=("name", "aht", "required", "steps"))
            if tbl is None:
                continue
            name = self.name(tbl, key, "name", seen, "queue")
            weight = self.number(tbl, key, "weight", default=0.0)
            aht = self.number(tbl, key, "aht")
            if aht is not None and aht <= 0:
                self.error(f"{key}.aht", f"must be > 0 seconds, not {aht:g}; use e.g. 180.0")
                aht = None
            required = (
                self.skills(tbl.get("required"), f"{key}.required") if "required" in tbl else None
            )
            steps = self.parse_steps(tbl.get("steps"), f"{key}.steps") if "steps" in tbl else None
            if None not in (name, weight, aht, required, steps):
                assert name is not None and weight is not None and aht is not None
                assert required is not None and steps is not None
                result.append(QueueSpec(name, weight, aht, tuple(required.items()), steps))
        return tuple(result)

    def parse_steps(self, value: Any, key: str) -> tuple[Step, ...] | None:
        items = self.array_of_tables(value, key)
        if not items:
            if isinstance(value, list):
                self.error(key, "must have at least one step; add [[queues.steps]] with after = 0")
            return None
        steps: list[Step] = []
        prev = Step(after=0.0, scope="centre", level_delta=0, preferred_only=True)
        ok = True
        for index, (skey, item) in enumerate(items):
            tbl = self.table(
                item, skey, ("after", "scope", "level_delta", "preferred_only"), required=("after",)
            )
            if tbl is None:
                ok = False
                continue
            after = self.number(tbl, skey, "after")
            scope = self.choice(tbl, skey, "scope", SCOPES, default=prev.scope)
            delta = self.integer(
                tbl, skey, "level_delta", default=prev.level_delta, lo=0, hi=MAX_LEVEL
            )
            pref = self.boolean(tbl, skey, "preferred_only", default=prev.preferred_only)
            if after is None or scope is None or delta is None or pref is None:
                ok = False
                continue
            if index == 0 and after != 0:
                self.error(f"{skey}.after", f"the first step must have after = 0, not {after:g}")
                ok = False
            if index > 0 and after <= prev.after:
                self.error(
                    f"{skey}.after",
                    f"must be greater than the previous step's after ({prev.after:g}); "
                    "list steps in increasing order of after",
                )
                ok = False
            if index > 0 and SCOPES.index(scope) < SCOPES.index(prev.scope):
                self.error(
                    f"{skey}.scope",
                    f"contradictory step: scope {scope!r} is narrower than the previous step's "
                    f"{prev.scope!r}; steps only ever relax (centre < region < any)",
                )
                ok = False
            if index > 0 and delta < prev.level_delta:
                self.error(
                    f"{skey}.level_delta",
                    f"contradictory step: level_delta {delta} is smaller than the previous step's "
                    f"{prev.level_delta}; steps only ever relax",
                )
                ok = False
            if index > 0 and pref and not prev.preferred_only:
                self.error(
                    f"{skey}.preferred_only",
                    "contradictory step: true after an earlier step set it to false; "
                    "steps only ever relax",
                )
                ok = False
            prev = Step(after, scope, delta, pref)
            steps.append(prev)
        return tuple(steps) if ok else None

    def parse_centres(self, value: Any, class_names: set[str]) -> tuple[Centre, ...]:
        result: list[Centre] = []
        seen: set[str] = set()
        allowed = ("name", "region", "lines", "line_shares", "dialects")
        for key, item in self.array_of_tables(value, "centres"):
            tbl = self.table(item, key, allowed, required=("name", "lines"))
            if tbl is None:
                continue
            name = self.name(tbl, key, "name", seen, "centre")
            region = self.string(tbl, key, "region") if "region" in tbl else None
            lines = self.integer(tbl, key, "lines", lo=0)
            shares = self.parse_line_shares(
                tbl.get("line_shares", {}), f"{key}.line_shares", class_names
            )
            dialects = self.string_list(tbl, key, "dialects") if "dialects" in tbl else ()
            if name is not None and lines is not None and dialects is not None:
                result.append(Centre(name, region, lines, shares, tuple(dialects)))
        return tuple(result)

    def parse_line_shares(
        self, value: Any, key: str, class_names: set[str]
    ) -> dict[str, LineShare]:
        shares: dict[str, LineShare] = {}
        tbl = self.table(value, key, None)
        if tbl is None:
            return shares
        for cls, item in tbl.items():
            ckey = f"{key}.{cls}"
            if class_names and cls not in class_names:
                self.error(ckey, f"unknown class {cls!r}; {_choices(cls, sorted(class_names))}")
                continue
            share = self.table(item, ckey, ("min", "max"))
            if share is None:
                continue
            lo = self.number(share, ckey, "min", default=0.0)
            hi = self.number(share, ckey, "max", default=1.0)
            for bound, v in (("min", lo), ("max", hi)):
                if v is not None and not 0.0 <= v <= 1.0:
                    self.error(f"{ckey}.{bound}", f"must be a share between 0 and 1, not {v:g}")
            if lo is not None and hi is not None and lo > hi:
                self.error(ckey, f"min ({lo:g}) is greater than max ({hi:g}); swap or fix them")
            if lo is not None and hi is not None:
                shares[cls] = LineShare(lo, hi)
        total = sum(s.min for s in shares.values())
        if total > 1.0 + 1e-9:
            self.error(key, f"the min shares add up to {total:g} > 1; lower them")
        return shares

    def parse_regions(self, value: Any, centres: tuple[Centre, ...]) -> dict[str, tuple[str, ...]]:
        tbl = self.table(value, "regions", None)
        known = [c.name for c in centres]
        regions: dict[str, list[str]] = {}
        member_of: dict[str, str] = {}
        for region, names in (tbl or {}).items():
            rkey = f"regions.{region}"
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.error(rkey, f"must be a list of centre names, not {_kind(names)}")
                continue
            for i, centre in enumerate(names):
                if centre not in known:
                    self.error(
                        f"{rkey}[{i}]", f"unknown centre {centre!r}; {_choices(centre, known)}"
                    )
                elif centre in member_of:
                    self.error(
                        f"{rkey}[{i}]",
                        f"centre {centre!r} is already in region {member_of[centre]!r}; "
                        "a centre belongs to one region",
                    )
                else:
                    member_of[centre] = region
                    regions.setdefault(region, []).append(centre)
        # A centre may name its region itself instead of (or as well as) being listed in [regions].
        for index, centre_spec in enumerate(centres):
            if centre_spec.region is None:
                continue
            listed = member_of.get(centre_spec.name)
            if listed is None:
                member_of[centre_spec.name] = centre_spec.region
                regions.setdefault(centre_spec.region, []).append(centre_spec.name)
            elif listed != centre_spec.region:
                self.error(
                    f"centres[{index}].region",
                    f"{centre_spec.region!r} contradicts [regions], which puts "
                    f"{centre_spec.name!r} in {listed!r}; make them agree",
                )
        return {region: tuple(names) for region, names in regions.items()}

    def parse_skill_weights(self, value: Any) -> dict[str, float]:
        weights: dict[str, float] = {}
        tbl = self.table(value, "skill_weights", None)
        for skill in tbl or {}:
            w = self.number(tbl or {}, "skill_weights", skill)
            if w is not None and w < 0:
                self.error(f"skill_weights.{skill}", f"must be >= 0, not {w:g}")
            elif w is not None:
                weights[skill] = w
        return weights

    def parse_selection(self, value: Any) -> Selection:
        tbl = self.table(value, "selection", ("strategy", *SELECTION_WEIGHTS))
        if tbl is None:
            return Selection()
        strategy = self.choice(tbl, "selection", "strategy", STRATEGIES, default="longest_idle")
        weights: dict[str, float] = {}
        for name in SELECTION_WEIGHTS:
            if name not in tbl:
                continue
            if strategy != "weighted" and name != "home":
                self.error(
                    f"selection.{name}",
                    f'only used with strategy = "weighted" (strategy is {strategy!r}); '
                    "remove it or switch the strategy",
                )
                continue
            w = self.number(tbl, "selection", name)
            if w is not None and w < 0:
                self.error(f"selection.{name}", f"must be >= 0, not {w:g}")
            elif w is not None:
                weights[name] = w
        return Selection(strategy or "longest_idle", **weights)

    def parse_agents(
        self, agents_value: Any, rosters_value: Any, centre_names: set[str]
    ) -> tuple[Agent, ...]:
        result: list[Agent] = []
        origin_of: dict[str, str] = {}

        def add(agent: Agent, id_key: str) -> None:
            if agent.id in origin_of:
                self.error(
                    id_key,
                    f"duplicate agent id {agent.id!r} (also from {origin_of[agent.id]}); "
                    "agent ids must be unique",
                )
                return
            origin_of[agent.id] = agent.origin
            result.append(agent)

        for key, item in self.array_of_tables(agents_value, "agents"):
            tbl = self.table(
                item,
                key,
                ("id", "centre", "skills", "max_calls"),
                required=("id", "centre", "skills"),
            )
            if tbl is None:
                continue
            agent_id = self.string(tbl, key, "id", nonempty=True)
            centre = self.centre_ref(tbl, key, centre_names)
            skills = self.skills(tbl.get("skills"), f"{key}.skills") if "skills" in tbl else None
            max_calls = self.integer(tbl, key, "max_calls", default=1, lo=1)
            if None not in (agent_id, centre, skills, max_calls):
                assert agent_id is not None and centre is not None
                assert skills is not None and max_calls is not None
                add(Agent(agent_id, centre, skills, max_calls, origin=key), f"{key}.id")

        roster_keys = ("centre", "centres", "prefix", "count", "skills", "max_calls")
        for key, item in self.array_of_tables(rosters_value, "rosters"):
            tbl = self.table(item, key, roster_keys, required=("prefix", "count", "skills"))
            if tbl is None:
                continue
            centres = self.roster_centres(tbl, key, centre_names)
            prefix = self.string(tbl, key, "prefix", nonempty=True)
            count = self.integer(tbl, key, "count", lo=1)
            skills = self.skills(tbl.get("skills"), f"{key}.skills") if "skills" in tbl else None
            max_calls = self.integer(tbl, key, "max_calls", default=1, lo=1)
            if None in (centres, prefix, count, skills, max_calls):
                continue
            assert centres is not None and prefix is not None and count is not None
            assert skills is not None and max_calls is not None
            for centre in centres:
                # `centre = "hq"` gives hq's agents prefix-0001...; `centres = [...]` gives each
                # listed centre its own agents <centre>-prefix-0001...
                stem = prefix if "centre" in tbl else f"{centre}-{prefix}"
                for n in range(1, count + 1):
                    agent_id = f"{stem}-{n:04d}"
                    origin = f"{key} ({agent_id})"
                    add(Agent(agent_id, centre, skills, max_calls, origin=origin), key)
        return tuple(result)

    def parse_customers(self, value: Any) -> Path | None:
        if value is None:
            return None
        tbl = self.table(value, "customers", ("file",), required=("file",))
        if tbl is None or "file" not in tbl:
            return None
        name = self.string(tbl, "customers", "file", nonempty=True)
        if name is None:
            return None
        file = (self.path.parent / name).resolve()
        if not file.exists():
            self.warn("customers.file", f"{file} does not exist (yet)")
        return file

    def check_staffing(self, config: Config) -> None:
        """Warn about queues no configured agent can ever take, and agent skills nothing uses:
        both are usually typos."""
        for index, queue in enumerate(config.queues):
            if not any(config.can_staff(queue, a, relaxed=True) for a in config.agents):
                needs = ", ".join(f"{s} >= {lvl}" for s, lvl in queue.required) or "nothing"
                self.warn(
                    f"queues[{index}]",
                    f"no agent could ever take queue {queue.name!r} (needs {needs}, even after "
                    f"relaxation by {queue.steps[-1].level_delta}); its calls would wait forever",
                )
        used = {s for q in config.queues for s, _ in q.required}
        used |= set(config.skill_weights)
        used |= {d for c in config.centres for d in c.dialects}
        reported: set[str] = set()
        for agent in config.agents:
            for skill in agent.skills:
                if skill not in used and skill not in reported:
                    reported.add(skill)
                    self.warn(
                        f"{agent.origin}.skills.{skill}",
                        f"skill {skill!r} is required by no queue and named by no skill weight or "
                        f"centre dialect; a typo? ({_choices(skill, sorted(used))})",
                    )

    # -- typed getters: each records a problem and returns None when the value is wrong ----------

    def table(
        self,
        value: Any,
        key: str,
        allowed: Iterable[str] | None,
        *,
        required: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        """`value` as a table; unknown keys (when `allowed` is given) and missing ones are errors."""
        if not isinstance(value, dict):
            self.error(key, f"must be a table, not {_kind(value)}")
            return None
        if allowed is not None:
            allowed = list(allowed)
            for name in value:
                if name not in allowed:
                    self.error(_join(key, name), f"unknown key; {_choices(name, allowed)}")
        for name in required:
            if name not in value:
                self.error(_join(key, name), "missing; add it")
        return value

    def array_of_tables(self, value: Any, key: str) -> list[tuple[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, f"must be an array of tables ([[{key}]]), not {_kind(value)}")
            return []
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]

    def number(
        self, tbl: Mapping[str, Any], key: str, name: str, *, default: float | None = None
    ) -> float | None:
        if name not in tbl:
            return default
        v = tbl[name]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.error(_join(key, name), f"must be a number, not {_kind(v)}")
            return None
        if not math.isfinite(v):
            self.error(_join(key, name), f"must be finite, not {v}")
            return None
        return float(v)

    def integer(
        self,
        tbl: Mapping[str, Any],
        key: str,
        name: str,
        *,
        default: int | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        if name not in tbl:
            return default
        v = tbl[name]
        if isinstance(v, bool) or not isinstance(v, int):
            self.error(_join(key, name), f"must be an integer, not {_kind(v)}")
            return None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            self.error(_join(key, name), f"must be {bounds}, not {v}")
            return None
        return v

    def boolean(self, tbl: Mapping[str, Any], key: str, name: str, *, default: bool) -> bool | None:
        v = tbl.get(name, default)
        if not isinstance(v, bool):
            self.error(_join(key, name), f"must be true or false, not {_kind(v)}")
            return None
        return v

    def string(
        self, tbl: Mapping[str, Any], key: str, name: str, *, nonempty: bool = False
    ) -> str | None:
        v = tbl.get(name)
        if not isinstance(v, str):
            self.error(_join(key, name), f"must be a string, not {_kind(v)}")
            return None
        if nonempty and not v.strip():
            self.error(_join(key, name), "must not be empty")
            return None
        return v

    def string_list(self, tbl: Mapping[str, Any], key: str, name: str) -> list[str] | None:
        v = tbl.get(name)
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            self.error(_join(key, name), f"must be a list of strings, not {_kind(v)}")
            return None
        return list(v)

    def choice(
        self, tbl: Mapping[str, Any], key: str, name: str, options: tuple[str, ...], *, default: str
    ) -> str | None:
        if name not in tbl:
            return default
        v = self.string(tbl, key, name)
        if v is not None and v not in options:
            close = difflib.get_close_matches(v, options, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.error(_join(key, name), f"{v!r} is not one of {', '.join(options)}{hint}")
            return None
        return v

    def name(
        self, tbl: Mapping[str, Any], key: str, field_name: str, seen: set[str], what: str
    ) -> str | None:
        """A unique, non-empty name (of a class, queue or centre)."""
        if field_name not in tbl:
            return None
        v = self.string(tbl, key, field_name, nonempty=True)
        if v is None:
            return None
        if v in seen:
            self.error(
                _join(key, field_name), f"duplicate {what} {v!r}; {what} names must be unique"
            )
            return None
        seen.add(v)
        return v

    def centre_ref(self, tbl: Mapping[str, Any], key: str, centre_names: set[str]) -> str | None:
        if "centre" not in tbl:
            return None
        centre = self.string(tbl, key, "centre", nonempty=True)
        if centre is not None and centre_names and centre not in centre_names:
            self.error(
                f"{key}.centre",
                f"unknown centre {centre!r}; {_choices(centre, sorted(centre_names))} "
                "or add it under [[centres]]",
            )
            return None
        return centre

    def roster_centres(
        self, tbl: Mapping[str, Any], key: str, centre_names: set[str]
    ) -> list[str] | None:
        """A roster's `centre = "x"` or `centres = ["x", "y"]` (exactly one of them)."""
        if ("centre" in tbl) == ("centres" in tbl):
            self.error(key, 'give either centre = "name" or centres = ["name", ...] (exactly one)')
            return None
        if "centre" in tbl:
            centre = self.centre_ref(tbl, key, centre_names)
            return None if centre is None else [centre]
        names = self.string_list(tbl, key, "centres")
        if names is None:
            return None
        ok = True
        for i, name in enumerate(names):
            if centre_names and name not in centre_names:
                self.error(
                    f"{key}.centres[{i}]",
                    f"unknown centre {name!r}; {_choices(name, sorted(centre_names))} "
                    "or add it under [[centres]]",
                )
                ok = False
        return names if ok else None

    def skills(self, value: Any, key: str) -> dict[str, int] | None:
        """A `{ skill = level }` table with integer levels 0..10, in table order."""
        tbl = self.table(value, key, None)
        if tbl is None:
            return None
        result: dict[str, int] = {}
        ok = True
        for skill in tbl:
            level = self.integer(tbl, key, skill, lo=0, hi=MAX_LEVEL)
            if not skill.strip():
                self.error(key, "a skill name must not be empty")
                ok = False
            elif level is None:
                ok = False
            else:
                result[skill] = level
        return result if ok else None


def _join(key: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        name = f'"{name}"'
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return type(value).__name__


def _choices(name: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(name, options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    if not options:
        return "none are defined"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of {shown}"


def _region_of(centre: str, regions: Mapping[str, tuple[str, ...]]) -> str | None:
    for region, names in regions.items():
        if centre in names:
            return region
    return None
