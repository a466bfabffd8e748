"""The reference model: a plain-Python implementation of `router._core.Core`.

It implements `docs/routing-policy.md` literally and slowly: every decision is a full scan of all
agents and calls, applying the eligibility and ranking rules as written, with the spec's float
expressions in the spec's evaluation order so that results agree with the Rust core bit for bit.
The differential tests demand that both give the same answers; the core's benchmark measures itself
against this model. It has no dependency on pytest or on the compiled core.

Every public method validates all of its input before it changes anything, so a failed operation
leaves the state exactly as it was (including the largest `now` seen).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Core",
    "CoreError",
    "DuplicateIdError",
    "InternalError",
    "InvalidInputError",
    "InvalidStateError",
    "InvalidTimeError",
    "PolicyError",
    "UnknownIdError",
]


class CoreError(ValueError):
    """Base of every error the model raises (mirrors `router._core.CoreError`)."""


class UnknownIdError(CoreError, KeyError):
    """An agent, call, queue or class id that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateIdError(CoreError):
    """An id that already exists."""


class InvalidStateError(CoreError):
    """The operation is not allowed in the current state of the call or agent."""


class InvalidTimeError(CoreError):
    """A time that is not finite, negative, in the future, or earlier than one already seen."""


class PolicyError(CoreError):
    """An invalid policy (the message names the offending item)."""


class InvalidInputError(CoreError):
    """Bad input: skills out of range, bad weights, empty ids."""


class InternalError(CoreError):
    """A bug in the core (a Rust panic in the real one)."""


AGENT_STATES = ("logged_out", "available", "reserved", "ringing", "on_call", "wrap_up", "break")
SCOPES = ("centre", "region", "any")  # in order of relaxation: a step never moves left
STRATEGIES = ("longest_idle", "least_occupied", "highest_proficiency", "weighted")


# --------------------------------------------------------------------------------------------------
# policy


@dataclass(frozen=True)
class Step:
    """One relaxation step of a queue, with omitted fields already inherited."""

    after: float
    scope: str
    level_delta: int
    preferred_only: bool


@dataclass(frozen=True)
class QueueSpec:
    """A queue as configured."""

    name: str
    weight: float
    aht: float
    required: tuple[tuple[str, int], ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ClassSpec:
    """A caller class as configured."""

    name: str
    base: float
    ageing: float


@dataclass(frozen=True)
class Policy:
    """A validated policy."""

    classes: dict[str, ClassSpec]
    queues: dict[str, QueueSpec]
    region_of: dict[str, str]  # centre -> region, only for centres listed in `regions`
    skill_weights: dict[str, float]
    idle: float
    talk: float
    skill: float
    home: float


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: object, path: str) -> float:
    if not _is_number(v):
        raise PolicyError(f"{path}: must be a number, got {v!r}")
    f = float(v)  # type: ignore[arg-type]
    if not math.isfinite(f):
        raise PolicyError(f"{path}: must be finite, got {v!r}")
    return f


def _level(v: object, path: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 10:
        raise PolicyError(f"{path}: must be an integer 0-10, got {v!r}")
    return v


def _mapping(v: object, path: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise PolicyError(f"{path}: must be a mapping, got {v!r}")
    return v


def _list(v: object, path: str) -> Sequence[Any]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise PolicyError(f"{path}: must be a list, got {v!r}")
    return v


def _name(v: object, path: str) -> str:
    if not isinstance(v, str) or not v:
        raise PolicyError(f"{path}: must be a non-empty string, got {v!r}")
    return v


def _opt(d: Mapping[str, Any], key: str, default: Any) -> Any:
    """An optional key (None counts as absent)."""
    v = d.get(key)
    return default if v is None else v


def _present(d: Mapping[str, Any], key: str, default: Any) -> Any:
    """An optional table or list (None is not absent: it is the wrong type)."""
    return d[key] if key in d else default


def _get(d: Mapping[str, Any], key: str, path: str) -> Any:
    v = d.get(key)
    if v is None:
        raise PolicyError(f"{path}.{key}: missing")
    return v


def _keys(d: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for k in d:
        if k not in allowed:
            raise PolicyError(f"{path}.{k}: unknown key (expected one of {', '.join(allowed)})")


# Defaults where the spec leaves a field optional (the core's choice, which is authoritative):
# class base 0 and ageing 1, queue weight 0 and aht 180, no required skills, one step at 0.
def _parse_steps(raw: object, path: str) -> tuple[Step, ...]:
    items = _list(raw, path)
    if not items:
        raise PolicyError(f"{path}: at least one step is required")
    steps: list[Step] = []
    prev = Step(after=0.0, scope="centre", level_delta=0, preferred_only=True)  # step 0 defaults
    for j, item in enumerate(items):
        p = f"{path}[{j}]"
        d = _mapping(item, p)
        _keys(d, p, ("after", "scope", "level_delta", "preferred_only"))
        after = _finite(_opt(d, "after", 0.0), f"{p}.after")
        if after < 0.0:
            raise PolicyError(f"{p}.after: must be >= 0, got {after!r}")
        if j == 0 and after != 0.0:
            raise PolicyError(f"{p}.after: the first step must start at 0, got {after!r}")
        if j > 0 and not after > prev.after:
            raise PolicyError(
                f"{p}.after: must be greater than the previous step's ({prev.after!r})"
            )
        scope = _opt(d, "scope", prev.scope)
        if scope not in SCOPES:
            raise PolicyError(f"{p}.scope: must be one of {', '.join(SCOPES)}, got {scope!r}")
        if SCOPES.index(scope) < SCOPES.index(prev.scope):
            raise PolicyError(f"{p}.scope: contradictory step narrows {prev.scope!r} to {scope!r}")
        level_delta = _level(_opt(d, "level_delta", prev.level_delta), f"{p}.level_delta")
        if level_delta < prev.level_delta:
            raise PolicyError(f"{p}.level_delta: contradictory step decreases {prev.level_delta}")
        preferred_only = _opt(d, "preferred_only", prev.preferred_only)
        if not isinstance(preferred_only, bool):
            raise PolicyError(f"{p}.preferred_only: must be a boolean, got {preferred_only!r}")
        if preferred_only and not prev.preferred_only:
            raise PolicyError(f"{p}.preferred_only: contradictory step goes back to true")
        prev = Step(after, scope, level_delta, preferred_only)
        steps.append(prev)
    return tuple(steps)


def _parse_required_policy(raw: object, path: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for j, item in enumerate(_list(raw, path)):
        p = f"{path}[{j}]"
        pair = _list(item, p)
        if len(pair) != 2:
            raise PolicyError(f"{p}: must be [skill, level]")
        skill = _name(pair[0], p)
        level = _level(pair[1], p)
        if any(s == skill for s, _ in out):
            raise PolicyError(f"{p}: skill {skill} repeated")
        out.append((skill, level))
    return tuple(out)


def parse_policy(policy: object) -> Policy:
    """Validate a policy given as plain data; `PolicyError` names the offending item."""
    top = _mapping(policy, "policy")
    _keys(top, "policy", ("classes", "queues", "regions", "skill_weights", "selection"))
    raw_classes = _list(_present(top, "classes", []), "classes")
    raw_queues = _list(_present(top, "queues", []), "queues")
    if not raw_classes:
        raise PolicyError("classes: at least one class is required")
    if not raw_queues:
        raise PolicyError("queues: at least one queue is required")
    classes: dict[str, ClassSpec] = {}
    for i, item in enumerate(raw_classes):
        p = f"classes[{i}]"
        d = _mapping(item, p)
        _keys(d, p, ("name", "base", "ageing"))
        name = _name(_get(d, "name", p), f"{p}.name")
        if name in classes:
            raise PolicyError(f"{p}.name: class {name} repeated")
        base = _finite(_opt(d, "base", 0.0), f"{p}.base")
        ageing = _finite(_opt(d, "ageing", 1.0), f"{p}.ageing")
        if not ageing > 0.0:
            raise PolicyError(f"{p}.ageing: must be > 0 (zero ageing allows starvation)")
        classes[name] = ClassSpec(name, base, ageing)

    queues: dict[str, QueueSpec] = {}
    for i, item in enumerate(raw_queues):
        p = f"queues[{i}]"
        d = _mapping(item, p)
        _keys(d, p, ("name", "weight", "aht", "required", "steps"))
        name = _name(_get(d, "name", p), f"{p}.name")
        if name in queues:
            raise PolicyError(f"{p}.name: queue {name} repeated")
        weight = _finite(_opt(d, "weight", 0.0), f"{p}.weight")
        aht = _finite(_opt(d, "aht", 180.0), f"{p}.aht")
        if not aht > 0.0:
            raise PolicyError(f"{p}.aht: must be > 0")
        required = _parse_required_policy(_present(d, "required", []), f"{p}.required")
        steps = _parse_steps(_present(d, "steps", [{}]), f"{p}.steps")
        queues[name] = QueueSpec(name, weight, aht, required, steps)

    region_of: dict[str, str] = {}
    for region, centres in _mapping(_present(top, "regions", {}), "regions").items():
        _name(region, "regions")
        for centre in _list(centres, f"regions.{region}"):
            if not isinstance(centre, str):
                raise PolicyError(f"regions.{region}: centre names must be strings")
            if centre in region_of:  # even twice in the same region
                raise PolicyError(f"regions.{region}: centre {centre} is listed in two regions")
            region_of[centre] = region

    skill_weights: dict[str, float] = {}
    for skill, w in _mapping(_present(top, "skill_weights", {}), "skill_weights").items():
        sw = _finite(w, f"skill_weights.{skill}")
        if sw < 0.0:
            raise PolicyError(f"skill_weights.{skill}: must be >= 0, got {w!r}")
        skill_weights[skill] = sw

    sel = _mapping(_present(top, "selection", {}), "selection")
    _keys(sel, "selection", ("strategy", "idle", "talk", "skill", "home"))
    strategy = _opt(sel, "strategy", "longest_idle")
    weights: dict[str, float] = {}
    for key in ("idle", "talk", "skill", "home"):
        w = _finite(_opt(sel, key, 0.0), f"selection.{key}")
        if w < 0.0:
            raise PolicyError(f"selection.{key}: must be >= 0, got {w!r}")
        weights[key] = w
    presets = {"longest_idle": "idle", "least_occupied": "talk", "highest_proficiency": "skill"}
    if strategy in presets:
        given = [k for k in ("idle", "talk", "skill") if sel.get(k) is not None]
        if given:
            raise PolicyError(f"selection.{given[0]}: only strategy 'weighted' takes this weight")
        only = presets[strategy]
        for key in ("idle", "talk", "skill"):
            weights[key] = 1.0 if key == only else 0.0
    elif strategy != "weighted":
        raise PolicyError(f"selection.strategy: must be one of {', '.join(STRATEGIES)}")
    return Policy(
        classes,
        queues,
        region_of,
        skill_weights,
        weights["idle"],
        weights["talk"],
        weights["skill"],
        weights["home"],
    )


# --------------------------------------------------------------------------------------------------
# state


@dataclass
class Agent:
    """One agent."""

    id: str
    centre: str
    skills: dict[str, int]
    max_calls: int
    calls_taken: int
    talk_time: float
    state: str = "logged_out"
    reason: str | None = None
    active: int = 0
    available_since: float = 0.0

    def offerable(self) -> bool:
        """May be offered a call now."""
        return self.state == "available" and self.active < self.max_calls


@dataclass
class Call:
    """One call, waiting or assigned."""

    id: str
    queue: str
    cls: str
    home: str
    required: list[tuple[str, int]]
    preferred: list[tuple[str, float]]
    preferred_agent: str | None
    enqueued_at: float
    agent: str | None = None  # None while waiting

    @property
    def waiting(self) -> bool:
        """Not assigned to an agent."""
        return self.agent is None


@dataclass
class _Explained:
    reasons: list[str] = field(default_factory=list)
    step: int = 0
    scope: str = "centre"


def _check_id(v: object, what: str) -> str:
    if not isinstance(v, str) or not v:
        raise InvalidInputError(f"{what} must be a non-empty string, got {v!r}")
    return v


def _check_skills(skills: object) -> dict[str, int]:
    if not isinstance(skills, Mapping):
        raise InvalidInputError(f"skills must be a mapping, got {skills!r}")
    out: dict[str, int] = {}
    for s, lvl in skills.items():
        _check_id(s, "skill name")
        if not isinstance(lvl, int) or isinstance(lvl, bool) or not 0 <= lvl <= 10:
            raise InvalidInputError(f"skill {s}: level must be an integer 0-10, got {lvl!r}")
        out[s] = lvl
    return out


def _check_count(v: object, what: str, minimum: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise InvalidInputError(f"{what} must be an integer >= {minimum}, got {v!r}")
    return v


def _check_nonneg(v: object, what: str) -> float:
    if not _is_number(v) or not math.isfinite(float(v)) or float(v) < 0.0:  # type: ignore[arg-type]
        raise InvalidInputError(f"{what} must be finite and >= 0, got {v!r}")
    return float(v)  # type: ignore[arg-type]


def _check_time(v: object, what: str) -> float:
    if not _is_number(v) or not math.isfinite(float(v)) or float(v) < 0.0:  # type: ignore[arg-type]
        raise InvalidTimeError(f"{what} must be finite and >= 0, got {v!r}")
    return float(v)  # type: ignore[arg-type]


class Core:
    """Waiting calls, agents and the policy that matches them; time is always passed in."""

    def __init__(self, policy: Mapping[str, Any]) -> None:
        self._policy = parse_policy(policy)
        self._aht = {q.name: q.aht for q in self._policy.queues.values()}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, Call] = {}
        self._last_now = 0.0

    # --- helpers -----------------------------------------------------------------------------------

    def _now(self, now: object) -> float:
        t = _check_time(now, "now")
        if t < self._last_now:
            raise InvalidTimeError(f"now {t!r} is earlier than {self._last_now!r}, already seen")
        return t

    def _seen(self, now: float) -> None:
        self._last_now = now

    def _agent(self, agent_id: object) -> Agent:
        a = self._agents.get(agent_id) if isinstance(agent_id, str) else None
        if a is None:
            raise UnknownIdError(f"unknown agent {agent_id!r}")
        return a

    def _call(self, call_id: object) -> Call:
        c = self._calls.get(call_id) if isinstance(call_id, str) else None
        if c is None:
            raise UnknownIdError(f"unknown call {call_id!r}")
        return c

    def _offerable_agent(self, agent_id: object) -> Agent:
        a = self._agent(agent_id)
        if not a.offerable():
            raise InvalidStateError(f"agent {agent_id} is {a.state} with {a.active}/{a.max_calls}")
        return a

    def _waiting_call(self, call_id: object) -> Call:
        c = self._call(call_id)
        if not c.waiting:
            raise InvalidStateError(f"call {call_id} is assigned to agent {c.agent}")
        return c

    def _region(self, centre: str) -> tuple[str, str]:
        # A centre in no region is its own region: tag the two kinds so that a centre named like a
        # region is never confused with it.
        r = self._policy.region_of.get(centre)
        return ("region", r) if r is not None else ("centre", centre)

    def _step(self, c: Call, now: float) -> int:
        steps = self._policy.queues[c.queue].steps
        return max(k for k in range(len(steps)) if now >= c.enqueued_at + steps[k].after)

    def _priority(self, c: Call, now: float) -> float:
        cl = self._policy.classes[c.cls]
        q = self._policy.queues[c.queue]
        return (cl.base + q.weight) + cl.ageing * (now - c.enqueued_at)

    def _call_rank(self, c: Call, now: float) -> tuple[float, float, str]:
        return (-self._priority(c, now), c.enqueued_at, c.id)

    def _explain(self, c: Call, a: Agent, now: float) -> _Explained:
        """Every reason `a` is not eligible for `c` at `now`, in the spec's order."""
        out = _Explained()
        if a.state != "available":
            out.reasons.append(f"agent {a.id} is {a.state}")
        if a.active >= a.max_calls:
            out.reasons.append(f"agent {a.id} is at max_calls ({a.max_calls})")
        if not c.waiting:
            out.reasons.append(f"call {c.id} is assigned")
        out.step = self._step(c, now)
        st = self._policy.queues[c.queue].steps[out.step]
        for s, m in c.required:
            need = max(0, m - st.level_delta)
            if s not in a.skills:
                out.reasons.append(f"lacks skill {s}")
            elif not a.skills[s] >= need:
                out.reasons.append(f"{s} level {a.skills[s]} < {need}")
        if c.preferred_agent is not None and st.preferred_only:
            out.scope = "agent"
            if a.id != c.preferred_agent:
                out.reasons.append(f"call waits for preferred agent {c.preferred_agent}")
        else:
            out.scope = st.scope
            if st.scope == "centre" and a.centre != c.home:
                out.reasons.append(f"centre {a.centre} is not home centre {c.home}")
            elif st.scope == "region" and self._region(a.centre) != self._region(c.home):
                out.reasons.append(f"centre {a.centre} is not in the region of {c.home}")
        return out

    def _eligible(self, c: Call, a: Agent, now: float) -> bool:
        """The spec's eligibility, literally (`_explain` says why not; `explain` checks they agree)."""
        if not (c.waiting and a.offerable()):
            return False
        st = self._policy.queues[c.queue].steps[self._step(c, now)]
        for s, m in c.required:
            if not (s in a.skills and a.skills[s] >= max(0, m - st.level_delta)):
                return False
        if c.preferred_agent is not None and st.preferred_only:
            return a.id == c.preferred_agent
        if st.scope == "centre":
            return a.centre == c.home
        if st.scope == "region":
            return self._region(a.centre) == self._region(c.home)
        return True

    def _skill_score(self, c: Call, a: Agent) -> float:
        total = 0.0
        for s, _ in c.required:  # caller's order
            total = total + self._policy.skill_weights.get(s, 1.0) * a.skills.get(s, 0)
        for s, w in c.preferred:  # caller's order
            total = total + w * a.skills.get(s, 0)
        return total

    def _fair(self, a: Agent) -> float:
        p = self._policy
        return p.idle * a.available_since + p.talk * a.talk_time

    def _score(self, c: Call, a: Agent) -> float:
        p = self._policy
        home = 1.0 if a.centre == c.home else 0.0
        return (p.skill * self._skill_score(c, a) + p.home * home) - self._fair(a)

    def _agent_rank(self, c: Call, a: Agent) -> tuple[float, float, float, str]:
        return (-self._score(c, a), self._fair(a), a.available_since, a.id)

    def _best_agent(self, c: Call, now: float) -> Agent | None:
        eligible = [a for a in self._agents.values() if self._eligible(c, a, now)]
        return min(eligible, key=lambda a: self._agent_rank(c, a), default=None)

    def _best_call(self, a: Agent, now: float) -> Call | None:
        eligible = [c for c in self._calls.values() if c.waiting and self._eligible(c, a, now)]
        return min(eligible, key=lambda c: self._call_rank(c, now), default=None)

    def _assign(self, c: Call, a: Agent) -> None:
        c.agent = a.id
        a.active += 1
        if a.active >= a.max_calls:
            a.state = "reserved"

    def _release(self, c: Call) -> Agent:
        """The agent side of requeue/remove/finish: the call no longer counts against it."""
        assert c.agent is not None
        a = self._agents[c.agent]
        a.active -= 1
        c.agent = None
        return a

    def _staffed(self, queue: str) -> int:
        req = self._policy.queues[queue].required
        return sum(
            1
            for a in self._agents.values()
            if a.state not in ("logged_out", "break")
            and all(s in a.skills and a.skills[s] >= m for s, m in req)
        )

    def _ewt(self, position: int, queue: str) -> float | None:
        staffed = self._staffed(queue)
        if staffed == 0:
            return None
        return position * self._aht[queue] / staffed

    # --- policy ------------------------------------------------------------------------------------

    def set_policy(self, policy: Mapping[str, Any], now: float) -> None:
        """Replace the policy atomically; waiting calls are re-evaluated under it at once."""
        t = self._now(now)
        new = parse_policy(policy)
        for c in sorted(self._calls.values(), key=lambda c: c.id):
            if c.queue not in new.queues:
                raise PolicyError(f"queues: call {c.id} is in queue {c.queue}, which is missing")
            if c.cls not in new.classes:
                raise PolicyError(f"classes: call {c.id} is of class {c.cls}, which is missing")
        self._policy = new
        self._aht = {q: self._aht.get(q, spec.aht) for q, spec in new.queues.items()}
        self._seen(t)

    # --- agents ------------------------------------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        centre: str,
        skills: Mapping[str, int],
        *,
        max_calls: int = 1,
        calls_taken: int = 0,
        talk_time: float = 0.0,
    ) -> None:
        """A new agent, logged out."""
        _check_id(agent_id, "agent id")
        _check_id(centre, "centre")
        if agent_id in self._agents:
            raise DuplicateIdError(f"agent {agent_id} already exists")
        sk = _check_skills(skills)
        mc = _check_count(max_calls, "max_calls", 1)
        ct = _check_count(calls_taken, "calls_taken", 0)
        tt = _check_nonneg(talk_time, "talk_time")
        self._agents[agent_id] = Agent(agent_id, centre, sk, mc, ct, tt)

    def update_agent(
        self,
        agent_id: str,
        *,
        centre: str | None = None,
        skills: Mapping[str, int] | None = None,
        max_calls: int | None = None,
        calls_taken: int | None = None,
        talk_time: float | None = None,
    ) -> None:
        """Change the given fields of an agent (skills are replaced as a whole)."""
        a = self._agent(agent_id)
        ce = None if centre is None else _check_id(centre, "centre")
        sk = None if skills is None else _check_skills(skills)
        mc = None if max_calls is None else _check_count(max_calls, "max_calls", 1)
        ct = None if calls_taken is None else _check_count(calls_taken, "calls_taken", 0)
        tt = None if talk_time is None else _check_nonneg(talk_time, "talk_time")
        if ce is not None:
            a.centre = ce
        if sk is not None:
            a.skills = sk
        if mc is not None:
            a.max_calls = mc
        if ct is not None:
            a.calls_taken = ct
        if tt is not None:
            a.talk_time = tt

    def remove_agent(self, agent_id: str) -> None:
        """Remove an agent that has no active call."""
        a = self._agent(agent_id)
        if a.active:
            raise InvalidStateError(f"agent {agent_id} has {a.active} active call(s)")
        del self._agents[agent_id]

    def set_agent_state(
        self, agent_id: str, state: str, now: float, reason: str | None = None
    ) -> None:
        """Set any state but `reserved`; entering `available` restarts the idle clock."""
        t = self._now(now)
        a = self._agent(agent_id)
        if state not in AGENT_STATES:
            raise InvalidInputError(f"unknown agent state {state!r}")
        if state == "reserved":
            raise InvalidInputError(f"agent {agent_id}: only an assignment reserves an agent")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError(f"reason must be a string, got {reason!r}")
        if state == "available" and a.state != "available":
            a.available_since = t
        a.state = state
        a.reason = reason if state == "break" else None
        self._seen(t)

    def agent_info(self, agent_id: str) -> dict[str, Any]:
        """Everything about one agent."""
        a = self._agent(agent_id)
        return {
            "id": a.id,
            "centre": a.centre,
            "skills": dict(a.skills),
            "max_calls": a.max_calls,
            "state": a.state,
            "reason": a.reason,
            "active": a.active,
            "available_since": a.available_since,
            "calls_taken": a.calls_taken,
            "talk_time": a.talk_time,
        }

    # --- calls -------------------------------------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue: str,
        cls: str,
        home: str,
        now: float,
        *,
        required: Sequence[tuple[str, int]] | None = None,
        preferred: Sequence[tuple[str, float]] | None = None,
        preferred_agent: str | None = None,
        enqueued_at: float | None = None,
    ) -> None:
        """A new waiting call."""
        t = self._now(now)
        _check_id(call_id, "call id")
        if call_id in self._calls:
            raise DuplicateIdError(f"call {call_id} already exists")
        if queue not in self._policy.queues:
            raise UnknownIdError(f"unknown queue {queue!r}")
        if cls not in self._policy.classes:
            raise UnknownIdError(f"unknown class {cls!r}")
        _check_id(home, "home")
        if required is None:
            req = list(self._policy.queues[queue].required)
        else:
            req = []
            for s, m in required:
                _check_id(s, "skill name")
                if not isinstance(m, int) or isinstance(m, bool) or not 0 <= m <= 10:
                    raise InvalidInputError(f"required skill {s}: level must be 0-10, got {m!r}")
                if any(s == r for r, _ in req):
                    raise InvalidInputError(f"required skill {s} repeated")
                req.append((s, m))
        pref: list[tuple[str, float]] = []
        for s, w in preferred or ():
            _check_id(s, "skill name")
            pref.append((s, _check_nonneg(w, f"preferred skill {s} weight")))
        if preferred_agent is not None:
            _check_id(preferred_agent, "preferred_agent")
        at = t if enqueued_at is None else _check_time(enqueued_at, "enqueued_at")
        if at > t:
            raise InvalidTimeError(f"enqueued_at {at!r} is after now {t!r}")
        self._calls[call_id] = Call(call_id, queue, cls, home, req, pref, preferred_agent, at)
        self._seen(t)

    def remove_call(self, call_id: str, now: float) -> None:
        """A waiting or assigned call disappears; an assigned one releases its agent as requeue."""
        t = self._now(now)
        c = self._call(call_id)
        if not c.waiting:
            a = self._release(c)
            if a.state == "reserved":
                a.state = "available"
        del self._calls[call_id]
        self._seen(t)

    def requeue(self, call_id: str, now: float) -> None:
        """An assigned call goes back to waiting, keeping its place."""
        t = self._now(now)
        c = self._call(call_id)
        if c.waiting:
            raise InvalidStateError(f"call {call_id} is waiting, not assigned")
        a = self._release(c)
        if a.state == "reserved":
            a.state = "available"
        self._seen(t)

    def finish(self, call_id: str, now: float, talk_seconds: float) -> None:
        """An assigned call ends; the agent's state is left to the router."""
        t = self._now(now)
        c = self._call(call_id)
        if c.waiting:
            raise InvalidStateError(f"call {call_id} is waiting, not assigned")
        talk = _check_nonneg(talk_seconds, "talk_seconds")
        a = self._release(c)
        a.calls_taken += 1
        a.talk_time += talk
        self._aht[c.queue] = 0.9 * self._aht[c.queue] + 0.1 * talk
        del self._calls[call_id]
        self._seen(t)

    def call_info(self, call_id: str) -> dict[str, Any]:
        """Everything about one call."""
        c = self._call(call_id)
        return {
            "id": c.id,
            "queue": c.queue,
            "cls": c.cls,
            "home": c.home,
            "required": list(c.required),
            "preferred": list(c.preferred),
            "preferred_agent": c.preferred_agent,
            "enqueued_at": c.enqueued_at,
            "state": "waiting" if c.waiting else "assigned",
            "agent": c.agent,
        }

    # --- decisions ---------------------------------------------------------------------------------

    def best_agent(self, call_id: str, now: float) -> str | None:
        """The top-ranked eligible agent for a waiting call, or None."""
        t = self._now(now)
        c = self._waiting_call(call_id)
        a = self._best_agent(c, t)
        self._seen(t)
        return None if a is None else a.id

    def best_call(self, agent_id: str, now: float) -> str | None:
        """The top-ranked waiting call the agent is eligible for, or None."""
        t = self._now(now)
        a = self._offerable_agent(agent_id)
        c = self._best_call(a, t)
        self._seen(t)
        return None if c is None else c.id

    def assign(self, call_id: str, agent_id: str, now: float) -> None:
        """Commit a waiting call to an agent eligible for it."""
        t = self._now(now)
        c = self._waiting_call(call_id)
        a = self._agent(agent_id)
        why = self._explain(c, a, t).reasons
        if why:
            raise InvalidStateError(f"agent {agent_id} is not eligible for call {call_id}: {why}")
        self._assign(c, a)
        self._seen(t)

    def dispatch_call(self, call_id: str, now: float) -> str | None:
        """`best_agent` then `assign`."""
        t = self._now(now)
        c = self._waiting_call(call_id)
        a = self._best_agent(c, t)
        if a is not None:
            self._assign(c, a)
        self._seen(t)
        return None if a is None else a.id

    def dispatch_agent(self, agent_id: str, now: float) -> str | None:
        """`best_call` then `assign`."""
        t = self._now(now)
        a = self._offerable_agent(agent_id)
        c = self._best_call(a, t)
        if c is not None:
            self._assign(c, a)
        self._seen(t)
        return None if c is None else c.id

    def match_all(self, now: float) -> list[tuple[str, str]]:
        """Greedy in call rank: assign every waiting call that has an eligible agent its best one."""
        t = self._now(now)
        pairs: list[tuple[str, str]] = []
        # Ranks do not change during the loop (same `now`), and an assignment only ever makes
        # agents less offerable, so a call passed over for lack of an eligible agent never gets one
        # later in the loop: one pass in rank order is the spec's "repeatedly take the top-ranked
        # waiting call that has an eligible agent".
        for c in sorted(
            (c for c in self._calls.values() if c.waiting), key=lambda c: self._call_rank(c, t)
        ):
            a = self._best_agent(c, t)
            if a is not None:
                self._assign(c, a)
                pairs.append((c.id, a.id))
        self._seen(t)
        return pairs

    def next_relaxation(self) -> float | None:
        """The earliest time after the last `now` at which a waiting call reaches a new step."""
        times = [
            c.enqueued_at + st.after
            for c in self._calls.values()
            if c.waiting
            for st in self._policy.queues[c.queue].steps
            if c.enqueued_at + st.after > self._last_now
        ]
        return min(times, default=None)

    # --- reporting ---------------------------------------------------------------------------------

    def call_position(self, call_id: str, now: float) -> tuple[int, float | None]:
        """(1 + waiting calls of the same queue ranked above it, expected wait or None)."""
        t = self._now(now)
        c = self._waiting_call(call_id)
        mine = self._call_rank(c, t)
        above = sum(
            1
            for o in self._calls.values()
            if o.waiting and o.queue == c.queue and self._call_rank(o, t) < mine
        )
        position = 1 + above
        ewt = self._ewt(position, c.queue)
        self._seen(t)
        return position, ewt

    def expected_wait(self, queue: str, cls: str, now: float) -> float | None:
        """The expected wait of a call of class `cls` arriving in `queue` now."""
        t = self._now(now)
        if queue not in self._policy.queues:
            raise UnknownIdError(f"unknown queue {queue!r}")
        if cls not in self._policy.classes:
            raise UnknownIdError(f"unknown class {cls!r}")
        mine = self._policy.classes[cls].base + self._policy.queues[queue].weight
        ahead = sum(
            1
            for o in self._calls.values()
            if o.waiting and o.queue == queue and self._priority(o, t) >= mine
        )
        ewt = self._ewt(1 + ahead, queue)
        self._seen(t)
        return ewt

    def queue_stats(self, queue: str, now: float) -> dict[str, Any]:
        """Waiting calls (total and by class), longest wait, AHT estimate, staffed agents."""
        t = self._now(now)
        if queue not in self._policy.queues:
            raise UnknownIdError(f"unknown queue {queue!r}")
        waiting = [c for c in self._calls.values() if c.waiting and c.queue == queue]
        by_class = {name: 0 for name in self._policy.classes}
        for c in waiting:
            by_class[c.cls] += 1
        longest = t - min(c.enqueued_at for c in waiting) if waiting else 0.0
        stats = {
            "waiting": len(waiting),
            "by_class": by_class,
            "longest_wait": longest,
            "aht": self._aht[queue],
            "staffed": self._staffed(queue),
        }
        self._seen(t)
        return stats

    def explain(self, call_id: str, agent_id: str, now: float) -> dict[str, Any]:
        """Why `agent` is or is not eligible for `call` at `now`, and how it would score."""
        t = self._now(now)
        c = self._call(call_id)
        a = self._agent(agent_id)
        ex = self._explain(c, a, t)
        if (not ex.reasons) != self._eligible(c, a, t):
            raise InternalError(f"model bug: eligibility of {agent_id} for {call_id} disagrees")
        out = {
            "eligible": not ex.reasons,
            "reasons": ex.reasons,
            "step": ex.step,
            "scope": ex.scope,
            "priority": self._priority(c, t),
            "skill_score": self._skill_score(c, a),
            "home": a.centre == c.home,
            "fair": self._fair(a),
            "score": self._score(c, a),
            "idle": t - a.available_since,
            "talk_time": a.talk_time,
        }
        self._seen(t)
        return out

    def waiting_calls(self) -> list[str]:
        """Ids of the waiting calls, sorted."""
        return sorted(c.id for c in self._calls.values() if c.waiting)

    def agent_ids(self) -> list[str]:
        """Ids of all agents, sorted."""
        return sorted(self._agents)

    def _panic_for_test(self) -> None:
        """The model's stand-in for a Rust panic."""
        raise InternalError("panic for test")
