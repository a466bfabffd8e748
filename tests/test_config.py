"""The TOML config: the shipped examples load, the policy dict has the documented shape, and every
kind of mistake is reported with the file, the key and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router._core import PolicyError
from router.config import Config, ConfigError, LineShare, Step, load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# A small valid config that each malformed case below breaks in one place.
MINIMAL = """\
[router]
centre = "hq"

[[classes]]
name = "trading"
base = 200.0
ageing = 1.0

[[classes]]
name = "other"
base = 0
ageing = 1

[[queues]]
name = "trading"
aht = 180.0
required = { trading = 4, cantonese = 2 }
[[queues.steps]]
after = 0
[[queues.steps]]
after = 30
scope = "region"
preferred_only = false
[[queues.steps]]
after = 60
scope = "any"
level_delta = 2

[regions]
south = ["guangdong", "hq"]

[[centres]]
name = "hq"
lines = 420
line_shares = { trading = { min = 0.4 }, other = { max = 0.2 } }

[[centres]]
name = "guangdong"
lines = 100
dialects = ["cantonese"]

[[agents]]
id = "lead"
centre = "hq"
skills = { trading = 9, cantonese = 5 }
max_calls = 2

[[rosters]]
centre = "guangdong"
prefix = "gd"
count = 3
skills = { trading = 6, cantonese = 9 }
"""


def write(tmp_path: Path, text: str, name: str = "router.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


# -- the shipped examples ----------------------------------------------------------------------------


def test_national_example_loads() -> None:
    config = load_config(EXAMPLES / "national_27plus1.toml")
    assert config.centre == "hq"
    names = [c.name for c in config.centres]
    assert names[0] == "hq" and len(names) == 28 and len(set(names)) == 28
    assert [c.name for c in config.classes] == ["trading", "registered", "other"]
    assert [c.base for c in config.classes] == [200.0, 100.0, 0.0]
    assert {c.ageing for c in config.classes} == {1.0}
    queues = {q.name for q in config.queues}
    assert queues >= {"trading", "advisory", "hk_stocks", "futures", "analyst", "complaints"}
    # every centre is in one of the regions
    assert sorted(n for names in config.regions.values() for n in names) == sorted(names)
    hq = config.centres[0]
    assert hq.lines == 420
    assert hq.line_shares["trading"] == LineShare(min=0.4, max=1.0)
    assert hq.line_shares["other"].max == 0.2
    by_centre = config.agents_by_centre()
    assert len(by_centre["hq"]) > 100
    assert all(by_centre[n] for n in names), "every centre has agents"
    assert "hq-trd-0001" in {a.id for a in config.agents}
    assert "guangdong-trd-0012" in {a.id for a in config.agents}
    assert len(config.agents) >= 300
    assert config.warnings == ()
    for queue in config.queues:
        assert any(config.can_staff(queue, a) for a in config.agents), queue.name


def test_single_centre_example_loads() -> None:
    config = load_config(EXAMPLES / "single_centre_50.toml")
    assert [c.name for c in config.centres] == ["main"]
    assert len(config.agents) == 50
    assert [q.name for q in config.queues] == ["trading", "advisory", "hk_stocks", "futures"]
    assert config.warnings == ()
    core = config.build_core()
    assert len(core.agent_ids()) == 50


def test_policy_has_the_documented_shape(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.policy() == {
        "classes": [
            {"name": "trading", "base": 200.0, "ageing": 1.0},
            {"name": "other", "base": 0.0, "ageing": 1.0},
        ],
        "queues": [
            {
                "name": "trading",
                "weight": 0.0,
                "aht": 180.0,
                "required": [["trading", 4], ["cantonese", 2]],  # table order
                "steps": [  # omitted fields inherit from the previous step
                    {"after": 0.0, "scope": "centre", "level_delta": 0, "preferred_only": True},
                    {"after": 30.0, "scope": "region", "level_delta": 0, "preferred_only": False},
                    {"after": 60.0, "scope": "any", "level_delta": 2, "preferred_only": False},
                ],
            }
        ],
        "regions": {"south": ["guangdong", "hq"]},
        "skill_weights": {},
        "selection": {"strategy": "longest_idle", "home": 0.0},
    }
    assert config.queues[0].steps[1] == Step(30.0, "region", 0, False)


def test_agents_and_rosters(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert [a.id for a in config.agents] == ["lead", "gd-0001", "gd-0002", "gd-0003"]
    lead = config.agents[0]
    assert (lead.centre, dict(lead.skills), lead.max_calls) == (
        "hq",
        {"trading": 9, "cantonese": 5},
        2,
    )
    assert config.agents[1].max_calls == 1
    core = config.build_core()
    assert core.agent_info("gd-0002")["skills"] == {"trading": 6, "cantonese": 9}


def test_roster_over_several_centres(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'centre = "guangdong"\nprefix = "gd"', 'centres = ["hq", "guangdong"]\nprefix = "t"'
    )
    config = load(tmp_path, text)
    assert [a.id for a in config.agents][1:] == [
        "hq-t-0001", "hq-t-0002", "hq-t-0003", "guangdong-t-0001", "guangdong-t-0002",
        "guangdong-t-0003",
    ]  # fmt: skip


def test_weighted_selection_and_skill_weights(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[skill_weights]\ntrading = 1.5\n\n[selection]\nstrategy = "weighted"\nidle = 1\n'
        "skill = 10.0\nhome = 50\n"
    )
    policy = load(tmp_path, text).policy()
    assert policy["selection"] == {
        "strategy": "weighted", "idle": 1.0, "talk": 0.0, "skill": 10.0, "home": 50.0,
    }  # fmt: skip
    assert policy["skill_weights"] == {"trading": 1.5}


def test_centre_region_field_joins_regions(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'name = "guangdong"\nlines = 100', 'name = "guangdong"\nregion = "south"\nlines = 100'
    )
    text = text.replace('south = ["guangdong", "hq"]', 'south = ["hq"]')
    config = load(tmp_path, text)
    assert config.regions == {"south": ("hq", "guangdong")}
    assert [c.region for c in config.centres] == ["south", "south"]


def test_customers_file_is_resolved_against_the_config(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("number,class\n", encoding="utf-8")
    config = load(tmp_path, MINIMAL + '\n[customers]\nfile = "customers.csv"\n')
    assert config.customers_file == tmp_path / "customers.csv"
    assert config.warnings == ()


# -- mistakes -----------------------------------------------------------------------------------------

# (case id, how to break MINIMAL: (old, new) replacement or text to append, key named, words in message)
BROKEN: list[tuple[str, tuple[str, str] | str, str, str]] = [
    ("unknown top-level key", "\n[routr]\ncentre = 'hq'\n", "routr", "did you mean 'router'"),
    ("unknown key in a step", ("after = 30\n", "afer = 30\n"), "queues[0].steps[1].afer", "unknown key"),
    ("wrong type", ("aht = 180.0", 'aht = "180"'), "queues[0].aht", "must be a number"),
    ("boolean for a number", ("aht = 180.0", "aht = true"), "queues[0].aht", "must be a number"),
    ("contradictory scope", ('scope = "any"', 'scope = "centre"'), "queues[0].steps[2].scope", "contradictory"),
    ("contradictory level_delta", ("level_delta = 2", "level_delta = 2\n[[queues.steps]]\nafter = 90\nlevel_delta = 1"), "queues[0].steps[3].level_delta", "contradictory"),
    ("contradictory preferred_only", ("level_delta = 2", "level_delta = 2\npreferred_only = true"), "queues[0].steps[2].preferred_only", "contradictory"),
    ("first step not at 0", ("after = 0\n", "after = 5\n"), "queues[0].steps[0].after", "after = 0"),
    ("steps out of order", ("after = 60", "after = 20"), "queues[0].steps[2].after", "greater than"),
    ("no steps", "\n[[queues]]\nname = 'x'\naht = 1.0\nrequired = {}\nsteps = []\n", "queues[1].steps", "at least one step"),
    ("bad scope", ('scope = "region"', 'scope = "province"'), "queues[0].steps[1].scope", "not one of"),
    ("duplicate queue", "\n[[queues]]\nname = 'trading'\naht = 1.0\nrequired = {}\n[[queues.steps]]\nafter = 0\n", "queues[1].name", "duplicate queue"),
    ("missing key", ("aht = 180.0\n", ""), "queues[0].aht", "missing"),
    ("negative base", ("base = 200.0", "base = -5.0"), "classes[0].base", ">= 0"),
    ("zero ageing", ("base = 0\nageing = 1", "base = 0\nageing = 0"), "classes[1].ageing", "> 0"),
    ("nan weight", ("aht = 180.0", "aht = 180.0\nweight = nan"), "queues[0].weight", "finite"),
    ("skill level 11", ("skills = { trading = 9,", "skills = { trading = 11,"), "agents[0].skills.trading", "between 0 and 10"),
    ("fractional skill level", ("trading = 4, cantonese = 2", "trading = 4.5, cantonese = 2"), "queues[0].required.trading", "integer"),
    ("agent in unknown centre", ('id = "lead"\ncentre = "hq"', 'id = "lead"\ncentre = "hk"'), "agents[0].centre", "unknown centre 'hk'"),
    ("roster in unknown centre", ('centre = "guangdong"\nprefix', 'centre = "guangdon"\nprefix'), "rosters[0].centre", "did you mean 'guangdong'"),
    ("duplicate agent id", ('id = "lead"', 'id = "gd-0002"'), "rosters[0]", "duplicate agent id 'gd-0002'"),
    ("max_calls zero", ("max_calls = 2", "max_calls = 0"), "agents[0].max_calls", ">= 1"),
    ("router in unknown centre", ('[router]\ncentre = "hq"', '[router]\ncentre = "beijing"'), "router.centre", "unknown centre"),
    ("centre in two regions", ('south = ["guangdong", "hq"]', 'south = ["guangdong", "hq"]\nnorth = ["hq"]'), "regions.north[0]", "already in region 'south'"),
    ("region of unknown centre", ('south = ["guangdong", "hq"]', 'south = ["guangdong", "hainan"]'), "regions.south[1]", "unknown centre"),
    ("line share of unknown class", ("other = { max = 0.2 }", "vip = { max = 0.2 }"), "centres[0].line_shares.vip", "unknown class"),
    ("line share above 1", ("other = { max = 0.2 }", "other = { max = 20 }"), "centres[0].line_shares.other.max", "between 0 and 1"),
    ("line share min above max", ("other = { max = 0.2 }", "other = { min = 0.5, max = 0.2 }"), "centres[0].line_shares.other", "greater than max"),
    ("negative lines", ("lines = 420", "lines = -1"), "centres[0].lines", ">= 0"),
    ("unknown strategy", "\n[selection]\nstrategy = 'random'\n", "selection.strategy", "not one of"),
    ("weight with a preset", "\n[selection]\nstrategy = 'longest_idle'\nidle = 2.0\n", "selection.idle", "weighted"),
    ("duplicate centre", "\n[[centres]]\nname = 'hq'\nlines = 1\n", "centres[2].name", "duplicate centre"),
    ("value instead of table", ('[router]\ncentre = "hq"', 'router = "hq"'), "router", "must be a table"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "key", "words"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_mistakes_name_file_and_key(
    tmp_path: Path, change: tuple[str, str] | str, key: str, words: str
) -> None:
    if isinstance(change, str):
        text = MINIMAL + change
    else:
        old, new = change
        assert old in MINIMAL, old
        text = MINIMAL.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    lines = [line for line in message.splitlines() if f": {key}: " in line]
    assert lines, f"no problem names {key!r}:\n{message}"
    assert any(words in line for line in lines), message
    assert all(line.startswith(str(path)) for line in message.splitlines())


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("lines = 100", "lines = = 100"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = MINIMAL.splitlines().index("lines = 100") + 1
    assert str(info.value).startswith(f"{path}:{line}:9: TOML syntax error")
    assert (info.value.path, info.value.line, info.value.column) == (path, line, 9)


def test_duplicate_toml_key_is_a_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"router\.toml:3:.*TOML syntax error"):
        load(tmp_path, MINIMAL.replace('centre = "hq"\n', 'centre = "hq"\ncentre = "hq"\n', 1))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("aht = 180.0", 'aht = "x"').replace("max_calls = 2", "max_calls = 0")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    keys = [key for key, _ in info.value.problems]
    assert "queues[0].aht" in keys and "agents[0].max_calls" in keys


def test_unstaffable_queue_is_a_warning(tmp_path: Path) -> None:
    text = MINIMAL + (
        "\n[[queues]]\nname = 'analyst'\naht = 400.0\nrequired = { analyst = 6 }\n"
        "[[queues.steps]]\nafter = 0\n"
    )
    config = load(tmp_path, text)
    assert len(config.warnings) == 1
    assert "queues[1]" in config.warnings[0] and "no agent could ever take" in config.warnings[0]


def test_unused_agent_skill_is_a_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path, MINIMAL.replace("skills = { trading = 9,", "skills = { tradng = 9, trading = 1,")
    )
    assert any(
        "agents[0].skills.tradng" in w and "did you mean 'trading'" in w for w in config.warnings
    )


def test_core_validation_is_reported_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the routing core rejects comes back as a ConfigError naming the file."""

    def reject(policy: Any) -> None:
        raise PolicyError("queues[0].steps[1].scope: nope")

    monkeypatch.setattr("router.config.model.Core", reject)
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"router\.toml: the routing core rejects the policy: "):
        load_config(path)
    assert load_config(path, check_core=False).centre == "hq"
