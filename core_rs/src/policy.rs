//! The routing policy: plain input (`PolicySpec`) validated into the form the matcher uses.
//!
//! Semantics and validation rules: `docs/routing-policy.md`.

use crate::error::{CoreError, Result};
use crate::intern::Interner;
use crate::skills::{Level, SkillId, MAX_LEVEL};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A caller class as given by the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSpec {
    pub name: String,
    pub base: f64,
    pub ageing: f64,
}

/// One relaxation step; `None` fields inherit from the previous step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepSpec {
    pub after: f64,
    pub scope: Option<String>,
    pub level_delta: Option<i64>,
    pub preferred_only: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub weight: f64,
    pub aht: f64,
    pub required: Vec<(String, i64)>,
    pub steps: Vec<StepSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectionSpec {
    pub strategy: String,
    pub idle: Option<f64>,
    pub talk: Option<f64>,
    pub skill: Option<f64>,
    pub home: Option<f64>,
}

impl Default for SelectionSpec {
    fn default() -> Self {
        SelectionSpec { strategy: "longest_idle".into(), idle: None, talk: None, skill: None, home: None }
    }
}

/// The whole policy as plain data, in the order the user gave it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicySpec {
    pub classes: Vec<ClassSpec>,
    pub queues: Vec<QueueSpec>,
    pub regions: Vec<(String, Vec<String>)>,
    pub skill_weights: Vec<(String, f64)>,
    pub selection: SelectionSpec,
}

/// How far from its home centre a call may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Centre,
    Region,
    Any,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Centre => "centre",
            Scope::Region => "region",
            Scope::Any => "any",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub after: f64,
    pub scope: Scope,
    pub level_delta: Level,
    pub preferred_only: bool,
}

#[derive(Debug, Clone)]
pub struct Class {
    pub name: Arc<str>,
    pub base: f64,
    pub ageing: f64,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: Arc<str>,
    pub weight: f64,
    pub aht: f64,
    pub required: Vec<(SkillId, Level)>,
    pub steps: Vec<Step>,
}

/// Agent-selection weights; the presets are expressed as weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection {
    pub idle: f64,
    pub talk: f64,
    pub skill: f64,
    pub home: f64,
}

/// Regions are keyed by a u32: a named region's id, or a centre that is its own region (high bit set).
pub type RegionKey = u32;
const SOLO_REGION: u32 = 1 << 31;

/// The validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub classes: Vec<Class>,
    pub class_index: FxHashMap<Arc<str>, u16>,
    pub queues: Vec<Queue>,
    pub queue_index: FxHashMap<Arc<str>, u16>,
    region_of: FxHashMap<u32, u32>,
    skill_weights: Vec<f64>,
    pub selection: Selection,
}

fn finite(path: &str, x: f64) -> Result<f64> {
    if !x.is_finite() {
        return Err(CoreError::policy(format!("{path}: must be a finite number, got {x}")));
    }
    Ok(x)
}

fn non_negative(path: &str, x: f64) -> Result<f64> {
    finite(path, x)?;
    if x < 0.0 {
        return Err(CoreError::policy(format!("{path}: must be >= 0, got {x}")));
    }
    Ok(x)
}

fn positive(path: &str, x: f64) -> Result<f64> {
    finite(path, x)?;
    if x <= 0.0 {
        return Err(CoreError::policy(format!("{path}: must be > 0, got {x}")));
    }
    Ok(x)
}

fn parse_scope(path: &str, s: &str) -> Result<Scope> {
    match s {
        "centre" => Ok(Scope::Centre),
        "region" => Ok(Scope::Region),
        "any" => Ok(Scope::Any),
        _ => Err(CoreError::policy(format!(
            "{path}: unknown scope {s:?} (expected \"centre\", \"region\" or \"any\")"
        ))),
    }
}

fn level(path: &str, l: i64) -> Result<Level> {
    if !(0..=MAX_LEVEL as i64).contains(&l) {
        return Err(CoreError::policy(format!("{path}: level must be 0..={MAX_LEVEL}, got {l}")));
    }
    Ok(l as Level)
}

fn compile_steps(path: &str, specs: &[StepSpec]) -> Result<Vec<Step>> {
    if specs.is_empty() {
        return Err(CoreError::policy(format!("{path}: at least one step is needed")));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let after = non_negative(&format!("{p}.after"), s.after)?;
        let prev = steps.last().copied().unwrap_or(Step {
            after: 0.0,
            scope: Scope::Centre,
            level_delta: 0,
            preferred_only: true,
        });
        if i == 0 && after != 0.0 {
            return Err(CoreError::policy(format!("{p}.after: the first step must start at 0, got {after}")));
        }
        if i > 0 && after <= prev.after {
            return Err(CoreError::policy(format!(
                "{p}.after: steps must start strictly later than the previous one ({} <= {})",
                after, prev.after
            )));
        }
        let scope = match &s.scope {
            Some(name) => parse_scope(&format!("{p}.scope"), name)?,
            None => prev.scope,
        };
        if scope < prev.scope {
            return Err(CoreError::policy(format!(
                "{p}.scope: contradictory step: scope {:?} narrows the previous step's {:?}",
                scope.name(),
                prev.scope.name()
            )));
        }
        let level_delta = match s.level_delta {
            Some(d) => level(&format!("{p}.level_delta"), d)?,
            None => prev.level_delta,
        };
        if level_delta < prev.level_delta {
            return Err(CoreError::policy(format!(
                "{p}.level_delta: contradictory step: {level_delta} is less than the previous step's {}",
                prev.level_delta
            )));
        }
        let preferred_only = s.preferred_only.unwrap_or(prev.preferred_only);
        if preferred_only && !prev.preferred_only && i > 0 {
            return Err(CoreError::policy(format!(
                "{p}.preferred_only: contradictory step: cannot go back to preferred-agent-only"
            )));
        }
        steps.push(Step { after, scope, level_delta, preferred_only });
    }
    Ok(steps)
}

impl Policy {
    /// Validates `spec`; names are interned into the given tables (harmless if validation fails).
    pub fn compile(
        spec: &PolicySpec,
        skills: &mut Interner,
        centres: &mut Interner,
        regions: &mut Interner,
    ) -> Result<Policy> {
        if spec.classes.is_empty() {
            return Err(CoreError::policy("classes: at least one caller class is needed"));
        }
        if spec.queues.is_empty() {
            return Err(CoreError::policy("queues: at least one queue is needed"));
        }
        let mut classes = Vec::new();
        let mut class_index = FxHashMap::default();
        for (i, c) in spec.classes.iter().enumerate() {
            let p = format!("classes[{i}]");
            if c.name.is_empty() {
                return Err(CoreError::policy(format!("{p}.name: must not be empty")));
            }
            let name: Arc<str> = Arc::from(c.name.as_str());
            if class_index.insert(name.clone(), i as u16).is_some() {
                return Err(CoreError::policy(format!("{p}.name: duplicate class {:?}", c.name)));
            }
            let base = finite(&format!("{p}.base"), c.base)?;
            let ageing = positive(&format!("{p}.ageing"), c.ageing)?;
            classes.push(Class { name, base, ageing });
        }
        let mut queues = Vec::new();
        let mut queue_index = FxHashMap::default();
        for (i, q) in spec.queues.iter().enumerate() {
            let p = format!("queues[{i}]");
            if q.name.is_empty() {
                return Err(CoreError::policy(format!("{p}.name: must not be empty")));
            }
            let name: Arc<str> = Arc::from(q.name.as_str());
            if queue_index.insert(name.clone(), i as u16).is_some() {
                return Err(CoreError::policy(format!("{p}.name: duplicate queue {:?}", q.name)));
            }
            let weight = finite(&format!("{p}.weight"), q.weight)?;
            let aht = positive(&format!("{p}.aht"), q.aht)?;
            let mut required: Vec<(SkillId, Level)> = Vec::new();
            for (j, (skill, l)) in q.required.iter().enumerate() {
                let rp = format!("{p}.required[{j}]");
                if skill.is_empty() {
                    return Err(CoreError::policy(format!("{rp}: skill name must not be empty")));
                }
                let l = level(&rp, *l)?;
                let id = skills.intern(skill) as SkillId;
                if required.iter().any(|&(s, _)| s == id) {
                    return Err(CoreError::policy(format!("{rp}: skill {skill:?} is listed twice")));
                }
                required.push((id, l));
            }
            let steps = compile_steps(&format!("{p}.steps"), &q.steps)?;
            queues.push(Queue { name, weight, aht, required, steps });
        }
        let mut region_of = FxHashMap::default();
        for (name, members) in &spec.regions {
            let p = format!("regions.{name}");
            if name.is_empty() {
                return Err(CoreError::policy("regions: a region name must not be empty"));
            }
            let r = regions.intern(name);
            for c in members {
                let cid = centres.intern(c);
                if region_of.insert(cid, r).is_some() {
                    return Err(CoreError::policy(format!("{p}: centre {c:?} is listed in two regions")));
                }
            }
        }
        let mut skill_weights = Vec::new();
        for (name, w) in &spec.skill_weights {
            let w = non_negative(&format!("skill_weights.{name}"), *w)?;
            let id = skills.intern(name) as usize;
            if skill_weights.len() <= id {
                skill_weights.resize(id + 1, 1.0);
            }
            skill_weights[id] = w;
        }
        let sel = &spec.selection;
        let w = |key: &str, v: Option<f64>, default: f64| -> Result<f64> {
            non_negative(&format!("selection.{key}"), v.unwrap_or(default))
        };
        let (idle, talk, skill) = match sel.strategy.as_str() {
            "longest_idle" => (1.0, 0.0, 0.0),
            "least_occupied" => (0.0, 1.0, 0.0),
            "highest_proficiency" => (0.0, 0.0, 1.0),
            "weighted" => (w("idle", sel.idle, 0.0)?, w("talk", sel.talk, 0.0)?, w("skill", sel.skill, 0.0)?),
            other => {
                return Err(CoreError::policy(format!(
                    "selection.strategy: unknown strategy {other:?} (expected longest_idle, \
                     least_occupied, highest_proficiency or weighted)"
                )))
            }
        };
        if sel.strategy != "weighted" && (sel.idle.is_some() || sel.talk.is_some() || sel.skill.is_some()) {
            return Err(CoreError::policy(format!(
                "selection: weights idle/talk/skill only apply to strategy \"weighted\", not {:?}",
                sel.strategy
            )));
        }
        let home = w("home", sel.home, 0.0)?;
        Ok(Policy {
            classes,
            class_index,
            queues,
            queue_index,
            region_of,
            skill_weights,
            selection: Selection { idle, talk, skill, home },
        })
    }

    pub fn region_of(&self, centre: u32) -> RegionKey {
        match self.region_of.get(&centre) {
            Some(&r) => r,
            None => SOLO_REGION | centre,
        }
    }

    pub fn skill_weight(&self, skill: SkillId) -> f64 {
        self.skill_weights.get(skill as usize).copied().unwrap_or(1.0)
    }

    pub fn class(&self, name: &str) -> Result<u16> {
        self.class_index.get(name).copied().ok_or_else(|| CoreError::unknown("caller class", name))
    }

    pub fn queue(&self, name: &str) -> Result<u16> {
        self.queue_index.get(name).copied().ok_or_else(|| CoreError::unknown("queue", name))
    }

    /// The index of the active step of a call enqueued at `t`, at `now`.
    pub fn step_at(&self, queue: u16, t: f64, now: f64) -> usize {
        let steps = &self.queues[queue as usize].steps;
        let mut k = 0;
        while k + 1 < steps.len() && now >= t + steps[k + 1].after {
            k += 1;
        }
        k
    }
}
