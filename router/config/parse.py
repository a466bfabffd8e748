"""Reading a config file: TOML syntax, then every section, into a `Config`."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from router.config.checks import Checker, choices, kind
from router.config.model import (
    MAX_LEVEL,
    SCOPES,
    SELECTION_WEIGHTS,
    STRATEGIES,
    Agent,
    Centre,
    ClassSpec,
    Config,
    ConfigError,
    LineShare,
    QueueSpec,
    Selection,
    Step,
)
from router.config.runtime import parse_calls, parse_esl


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
    return ConfigError(
        file,
        [("", f"TOML syntax error: {text[: match.start()]}")],
        line=int(match.group(1)),
        column=int(match.group(2)),
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
    "esl",
    "calls",
)


class _Parser(Checker):
    """Walks the TOML data once, collecting every problem instead of stopping at the first."""

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
        esl = parse_esl(self, top.get("esl"))
        calls = parse_calls(
            self, top.get("calls"), [q.name for q in queues], [c.name for c in classes], self.path.parent
        )
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
            esl=esl,
            calls=calls,
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
                "router.centre", f"unknown centre {centre!r}; {choices(centre, centre_names)}"
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
                self.error(ckey, f"unknown class {cls!r}; {choices(cls, sorted(class_names))}")
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
                self.error(rkey, f"must be a list of centre names, not {kind(names)}")
                continue
            for i, centre in enumerate(names):
                if centre not in known:
                    self.error(
                        f"{rkey}[{i}]", f"unknown centre {centre!r}; {choices(centre, known)}"
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
                        f"centre dialect; a typo? ({choices(skill, sorted(used))})",
                    )

    # -- references and skills ----------------------------------------------------------------

    def centre_ref(self, tbl: Mapping[str, Any], key: str, centre_names: set[str]) -> str | None:
        if "centre" not in tbl:
            return None
        centre = self.string(tbl, key, "centre", nonempty=True)
        if centre is not None and centre_names and centre not in centre_names:
            self.error(
                f"{key}.centre",
                f"unknown centre {centre!r}; {choices(centre, sorted(centre_names))} "
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
                    f"unknown centre {name!r}; {choices(name, sorted(centre_names))} "
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


def _region_of(centre: str, regions: Mapping[str, tuple[str, ...]]) -> str | None:
    for region, names in regions.items():
        if centre in names:
            return region
    return None
