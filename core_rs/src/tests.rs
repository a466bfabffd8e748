//! Unit tests of the core through its Rust API (the Python suite adds property and differential
//! tests against the reference model).

use crate::core::{AgentUpdate, CallSpec, Core};
use crate::error::ErrorKind;
use crate::policy::{ClassSpec, PolicySpec, QueueSpec, SelectionSpec, StepSpec};

fn step(after: f64, scope: &str) -> StepSpec {
    StepSpec { after, scope: Some(scope.into()), level_delta: None, preferred_only: None }
}

fn policy() -> PolicySpec {
    PolicySpec {
        classes: vec![
            ClassSpec { name: "trading".into(), base: 200.0, ageing: 1.0 },
            ClassSpec { name: "other".into(), base: 0.0, ageing: 1.0 },
        ],
        queues: vec![QueueSpec {
            name: "q".into(),
            weight: 0.0,
            aht: 100.0,
            required: vec![("trading".into(), 5)],
            steps: vec![
                step(0.0, "centre"),
                step(10.0, "region"),
                StepSpec {
                    after: 20.0,
                    scope: Some("any".into()),
                    level_delta: Some(3),
                    preferred_only: Some(false),
                },
            ],
        }],
        regions: vec![("north".into(), vec!["bj".into(), "tj".into()])],
        skill_weights: vec![],
        selection: SelectionSpec::default(),
    }
}

fn call<'a>(id: &'a str, class: &'a str, home: &'a str) -> CallSpec<'a> {
    CallSpec { id, queue: "q", class, home, ..Default::default() }
}

fn ready(core: &mut Core, id: &str, centre: &str, level: i64, now: f64) {
    core.add_agent(id, centre, &[("trading", level)], 1, 0, 0.0).unwrap();
    core.set_agent_state(id, "available", now, None).unwrap();
}

fn name(core: &Core, agent: Option<u32>) -> Option<String> {
    agent.map(|a| core.agent_name(a).to_string())
}

#[test]
fn home_centre_first_then_region_then_anywhere() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "tj1", "tj", 5, 0.0);
    ready(&mut core, "gz1", "gz", 5, 0.0);
    core.enqueue(&call("c1", "other", "bj"), 1.0).unwrap();
    assert_eq!(core.best_agent("c1", 1.0).unwrap(), None);
    assert_eq!(core.next_relaxation(), Some(11.0));
    // Relaxation happens exactly at enqueue + after, not a moment before.
    assert_eq!(core.best_agent("c1", 10.999).unwrap(), None);
    assert_eq!(best(&mut core, "c1", 11.0), Some("tj1".into()));
    core.set_agent_state("tj1", "break", 11.0, None).unwrap();
    assert_eq!(core.best_agent("c1", 20.0).unwrap(), None);
    assert_eq!(best(&mut core, "c1", 21.0), Some("gz1".into()));
    assert_eq!(core.next_relaxation(), None);
}

#[test]
fn level_relaxation_lowers_the_minimum_but_keeps_the_skill() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "weak", "bj", 2, 0.0);
    core.add_agent("none", "bj", &[("futures", 9)], 1, 0, 0.0).unwrap();
    core.set_agent_state("none", "available", 0.0, None).unwrap();
    core.enqueue(&call("c1", "trading", "bj"), 0.0).unwrap();
    assert_eq!(core.best_agent("c1", 19.0).unwrap(), None);
    assert_eq!(best(&mut core, "c1", 20.0), Some("weak".into()));
    let why = core.explain("c1", "none", 20.0).unwrap();
    assert!(!why.eligible);
    assert_eq!(why.reasons, vec!["lacks skill trading".to_string()]);
}

#[test]
fn higher_class_first_and_ageing_lets_old_calls_through() {
    let mut core = Core::new(&policy()).unwrap();
    core.enqueue(&call("old-other", "other", "bj"), 0.0).unwrap();
    core.enqueue(&call("new-trading", "trading", "bj"), 150.0).unwrap();
    ready(&mut core, "a", "bj", 5, 150.0);
    // other: 0 + 150 = 150 < trading 200 + 0
    assert_eq!(
        core.best_call("a", 150.0).unwrap().map(|s| core.call_id(s).to_string()),
        Some("new-trading".into())
    );
    // Both age at 1/s: the trading call stays 50 ahead; a trading call arriving more than
    // 200 s after the other call can no longer overtake it.
    core.remove_call("new-trading", 150.0).unwrap();
    core.enqueue(&call("late-trading", "trading", "bj"), 201.0).unwrap();
    assert_eq!(
        core.best_call("a", 201.0).unwrap().map(|s| core.call_id(s).to_string()),
        Some("old-other".into())
    );
}

#[test]
fn requeue_keeps_the_place_and_frees_the_agent() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "a", "bj", 5, 0.0);
    core.enqueue(&call("first", "other", "bj"), 1.0).unwrap();
    assert_eq!(
        {
            let a = core.dispatch_call("first", 1.0).unwrap();
            name(&core, a)
        },
        Some("a".into())
    );
    core.enqueue(&call("second", "other", "bj"), 2.0).unwrap();
    core.requeue("first", 3.0).unwrap();
    assert_eq!(core.agent_info("a").unwrap().state, "available");
    assert_eq!(core.call_position("first", 3.0).unwrap().0, 1);
    assert_eq!(core.call_position("second", 3.0).unwrap().0, 2);
    assert_eq!(core.call_info("first").unwrap().enqueued_at, 1.0);
}

#[test]
fn preferred_agent_only_until_the_step_says_otherwise() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "other", "bj", 9, 0.0);
    core.enqueue(&CallSpec { preferred_agent: Some("escort"), ..call("c", "trading", "bj") }, 0.0).unwrap();
    assert_eq!(core.best_agent("c", 5.0).unwrap(), None);
    // The preferred agent is in another region: still reachable, that is what an escort is for.
    ready(&mut core, "escort", "gz", 5, 5.0);
    assert_eq!(best(&mut core, "c", 5.0), Some("escort".into()));
    core.set_agent_state("escort", "break", 6.0, None).unwrap();
    assert_eq!(best(&mut core, "c", 20.0), Some("other".into()));
}

#[test]
fn match_all_is_greedy_in_call_rank_and_never_double_books() {
    let mut core = Core::new(&policy()).unwrap();
    for (i, class) in ["other", "trading", "other", "trading"].iter().enumerate() {
        core.enqueue(&call(&format!("c{i}"), class, "bj"), i as f64).unwrap();
    }
    ready(&mut core, "b", "bj", 7, 4.0);
    ready(&mut core, "a", "bj", 5, 4.5);
    let pairs: Vec<(String, String)> = core
        .match_all(5.0)
        .unwrap()
        .into_iter()
        .map(|(c, a)| (core.call_id(c).to_string(), core.agent_name(a).to_string()))
        .collect();
    assert_eq!(pairs, vec![("c1".into(), "b".into()), ("c3".into(), "a".into())]);
    assert!(core.match_all(5.0).unwrap().is_empty());
    assert_eq!(core.waiting_calls().len(), 2);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "a", "bj", 5, 10.0);
    let before = core.agent_info("a").unwrap();
    let kind = |r: crate::Result<()>| r.unwrap_err().kind;
    assert_eq!(kind(core.set_agent_state("a", "available", 9.0, None)), ErrorKind::InvalidTime);
    assert_eq!(kind(core.set_agent_state("a", "available", f64::NAN, None)), ErrorKind::InvalidTime);
    assert_eq!(kind(core.set_agent_state("a", "reserved", 10.0, None)), ErrorKind::InvalidInput);
    assert_eq!(kind(core.add_agent("a", "bj", &[], 1, 0, 0.0)), ErrorKind::DuplicateId);
    assert_eq!(kind(core.add_agent("b", "bj", &[("x", 11)], 1, 0, 0.0)), ErrorKind::InvalidInput);
    let upd = AgentUpdate { skills: Some(vec![("x", -1)]), ..Default::default() };
    assert_eq!(kind(core.update_agent("a", &upd)), ErrorKind::InvalidInput);
    assert_eq!(kind(core.enqueue(&call("c", "nope", "bj"), 10.0).map(|_| ())), ErrorKind::UnknownId);
    let future = CallSpec { enqueued_at: Some(11.0), ..call("c", "other", "bj") };
    assert_eq!(kind(core.enqueue(&future, 10.0).map(|_| ())), ErrorKind::InvalidTime);
    assert_eq!(core.agent_info("a").unwrap(), before);
    assert!(core.waiting_calls().is_empty());
    assert!(core.agent_info("b").is_err());
}

#[test]
fn contradictory_steps_are_rejected_with_their_path() {
    let mut p = policy();
    p.queues[0].steps.push(step(30.0, "centre"));
    let err = Core::new(&p).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Policy);
    assert!(err.message.starts_with("queues[0].steps[3].scope"), "{}", err.message);
    let mut p = policy();
    p.classes[1].ageing = 0.0;
    assert!(Core::new(&p).err().unwrap().message.starts_with("classes[1].ageing"));
}

#[test]
fn set_policy_applies_to_calls_already_waiting() {
    let mut core = Core::new(&policy()).unwrap();
    ready(&mut core, "gz1", "gz", 5, 0.0);
    core.enqueue(&call("c", "other", "bj"), 0.0).unwrap();
    assert_eq!(core.best_agent("c", 1.0).unwrap(), None);
    let mut p = policy();
    p.queues[0].steps = vec![step(0.0, "any")];
    core.set_policy(&p, 1.0).unwrap();
    assert_eq!(best(&mut core, "c", 1.0), Some("gz1".into()));
    // A policy that drops the queue of a waiting call is refused.
    let mut p = policy();
    p.queues[0].name = "renamed".into();
    assert_eq!(core.set_policy(&p, 1.0).unwrap_err().kind, ErrorKind::Policy);
    assert_eq!(best(&mut core, "c", 1.0), Some("gz1".into()));
}

#[test]
fn weighted_selection_prefers_skill_and_home() {
    let mut p = policy();
    p.selection = SelectionSpec {
        strategy: "weighted".into(),
        idle: Some(1.0),
        talk: None,
        skill: Some(10.0),
        home: Some(100.0),
    };
    p.queues[0].steps = vec![step(0.0, "any")];
    let mut core = Core::new(&p).unwrap();
    ready(&mut core, "idle-long", "gz", 5, 0.0);
    ready(&mut core, "expert", "gz", 9, 30.0);
    ready(&mut core, "home", "bj", 5, 50.0);
    core.enqueue(&call("c", "other", "bj"), 60.0).unwrap();
    // skill*level + home - idle*since: idle-long 50, expert 60, home 100
    assert_eq!(best(&mut core, "c", 60.0), Some("home".into()));
    core.set_agent_state("home", "break", 60.0, None).unwrap();
    assert_eq!(best(&mut core, "c", 60.0), Some("expert".into()));
}

/// `best_agent` by name, unwrapped.
fn best(core: &mut Core, call: &str, now: f64) -> Option<String> {
    let a = core.best_agent(call, now).unwrap();
    name(core, a)
}
