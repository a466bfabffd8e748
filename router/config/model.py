"""The validated configuration: typed dataclasses and the policy dict the routing core takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import Any

from router._core import Core, CoreError, PolicyError

SCOPES = ("centre", "region", "any")
STRATEGIES = ("longest_idle", "least_occupied", "highest_proficiency", "weighted")
SELECTION_WEIGHTS = ("idle", "talk", "skill", "home")
MAX_LEVEL = 10


class ConfigError(ValueError):
    """A config file is unreadable or invalid.

    `problems` holds every `(key, message)` found (key "" for the file as a whole); `str()` renders
    one line per problem, each starting with the file name (and `:line:column` when known, for
    TOML syntax errors).
    """

    def __init__(
        self,
        path: Path,
        problems: Iterable[tuple[str, str]],
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = path
        self.problems = list(problems)
        self.line = line
        self.column = column
        where = str(path) if line is None else f"{path}:{line}:{column}"
        super().__init__(
            "\n".join(
                f"{where}: {key}: {msg}" if key else f"{where}: {msg}" for key, msg in self.problems
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
class EslSettings:
    """``[esl]``: where FreeSWITCH's event socket is. The password may come from the environment
    instead (``ESL_ROUTER_ESL_PASSWORD``, which wins); there is no built-in default."""

    host: str = "127.0.0.1"
    port: int = 8021
    password: str | None = None
    nodes: tuple[tuple[str, int], ...] = ()
    """Several FreeSWITCH nodes of one centre (``nodes = ["10.0.0.1:8021", ...]``), all with the
    same password; empty: the one node `host`:`port`. See `addresses`."""

    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every node's (host, port), in config order."""
        return self.nodes or ((self.host, self.port),)


@dataclass(frozen=True)
class Overflow:
    """``[[calls.overflow]]``: after `after` seconds of waiting (counted from the enqueue time), a
    call of `queue` and `cls` (None: any) still waiting leaves it: to the queue `to` (keeping its
    enqueue time) or, by ``uuid_transfer``, to the dialplan extension `extension`."""

    after: float
    queue: str | None = None
    cls: str | None = None
    to: str | None = None
    extension: str | None = None
    callback: bool = False
    """True: the caller is offered a callback instead (`Callback`), keeping their place."""

    def matches(self, queue: str, cls: str) -> bool:
        return self.queue in (None, queue) and self.cls in (None, cls)


@dataclass(frozen=True)
class Trunk:
    """``[[calls.trusted_trunks]]``: a SIP peer (an SBC, the brokerage's own IVR) whose headers the
    router believes. Calls from any other source address have these headers ignored: anyone can
    put ``X-Caller-Class: trading`` in an INVITE."""

    name: str
    networks: tuple[IPv4Network | IPv6Network, ...]
    """Source addresses (FreeSWITCH's ``sip_network_ip``) the trunk's INVITEs come from."""
    class_header: str | None = None
    """SIP header carrying the caller class (a configured class name), e.g. ``X-Caller-Class``."""
    home_header: str | None = None
    """SIP header carrying the caller's home centre (a configured centre name)."""
    number_header: str | None = None
    """SIP header carrying the customer's number, looked up in the customer directory instead of
    the caller ID (e.g. when the trunk presents its own number)."""

    def admits(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


@dataclass(frozen=True)
class Callback:
    """``[calls.callback]``: instead of holding, a waiting caller may be called back. The call
    keeps its place in the queue with no channel; when an agent is chosen the router rings the
    agent first and, once they answer, the customer, then bridges the two."""

    dial: str
    """Dial string of the customer's line; ``{number}`` is replaced by the caller's number
    (digits only, as the customer directory keys it), e.g. ``sofia/gateway/pstn/{number}``."""
    key: str | None = None
    """A key (DTMF digit) a waiting caller presses to ask for a callback (None: not offered)."""
    confirm: str | None = "ivr/ivr-thank_you.wav"
    """Played to the caller before the router hangs up (None: hang up at once)."""
    caller_id: str | None = None
    """``origination_caller_id_number`` the customer sees (None: FreeSWITCH's default)."""
    ring_timeout: int = 30
    """Seconds the customer's phone rings."""
    attempts: int = 3
    """Tries to reach the customer before the callback is given up."""
    retry_after: float = 300.0
    """Seconds after an unanswered try before the call is offered to agents again."""
    agent_tone: str = "tone_stream://%(2000,4000,440,480);loops=-1"
    """What the agent hears while the customer's phone rings (ringback)."""
    cls: str | None = None
    """``class``: the caller class a callback waits in (None: the caller's own). A class of its
    own with a low base keeps callbacks, which never hang up, from overtaking live callers who
    would (with one ageing rate a call of base B overtakes later calls of base B + D after D s)."""
    state_file: Path | None = None
    """Where pending callbacks are kept across restarts (None: in memory only; a restart or a
    drain then loses them). Relative paths are relative to the config file."""


@dataclass(frozen=True)
class CallSettings:
    """``[calls]``: how the router handles each call (see router/routing/lifecycle.py)."""

    agent_endpoint: str = "user/{agent}"
    """Dial string of an agent's phone; ``{agent}`` is replaced by the agent id."""
    ring_timeout: int = 15
    """Seconds an agent's phone rings (``originate_timeout``; FreeSWITCH counts whole seconds)."""
    wrap_up: float = 10.0
    """Seconds of wrap-up after each call before the agent is offered the next one."""
    miss_delay: float = 30.0
    """Seconds an agent who missed a call (no answer, busy, rejected) is not offered calls."""
    max_misses: int = 3
    """Consecutive misses after which the agent goes on break."""
    hold_music: str = "local_stream://moh"
    fallback_music: str = "tone_stream://%(1000,3000,440);loops=-1"
    """Played instead when FreeSWITCH has no `hold_music` source (``FILE NOT FOUND``)."""
    default_queue: str | None = None
    """Queue of calls that name none (None: the first queue)."""
    ivr: Mapping[str, str] = field(default_factory=dict)
    """IVR digits (``esl_router_digits``) -> queue, for calls that name no queue."""
    max_expected_wait: float = 0.0
    """Admission: refuse a line to a caller (not of `exempt_classes`) whose queue's expected
    wait is over this many seconds, or who nobody is staffed to answer; 0 disables the check."""
    exempt_classes: tuple[str, ...] = ("trading",)
    """Classes never refused for their max line share or the expected wait (only for no free line)."""
    refuse_action: str = "hangup"
    """What a caller refused a line gets: ``hangup`` (after `refuse_message`), ``transfer``
    (to `refuse_extension`: voicemail, self-service IVR...) or ``callback`` (`callback`: the
    caller is queued for a callback at once; one with no usable number gets the hangup)."""
    refuse_extension: str | None = None
    """Dialplan extension a refused caller is transferred to (``uuid_transfer``)."""
    refuse_message: str | None = "ivr/ivr-all_circuits_busy.wav"
    """Played to a refused caller before the hangup (None: hang up at once)."""
    announce_every: float = 0.0
    """Seconds between position / expected-wait announcements to a waiting caller (0: none)."""
    announce_position: str = "ivr/ivr-you_are_number.wav"
    """Played before the caller's position (then ``say <language> number pronounced N``)."""
    announce_wait: str = "ivr/ivr-hold_time_is.wav"
    """Played before the expected wait (``say <language> time_measurement pronounced S``)."""
    announce_language: str = "en"
    """The ``say`` module/language of the announcements."""
    exit_keys: Mapping[str, str] = field(default_factory=dict)
    """A key (DTMF digit) a waiting caller may press -> the dialplan extension they are then
    transferred to (voicemail, callback offer...)."""
    trusted_trunks: tuple[Trunk, ...] = ()
    """SIP peers whose classification headers are believed (see `Trunk`)."""
    callback: Callback | None = None
    """Callbacks (None: not offered; `exit_keys`, overflow rules and admission then cannot
    offer them either)."""
    overflow: tuple[Overflow, ...] = ()
    """Maximum waits per queue and class, in config order: the first rule that matches applies."""

    def overflow_for(self, queue: str, cls: str) -> Overflow | None:
        return next((o for o in self.overflow if o.matches(queue, cls)), None)


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
    esl: EslSettings = field(default_factory=EslSettings)
    calls: CallSettings = field(default_factory=CallSettings)
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
