//! The routing core: agents, waiting calls, and the decisions that match them.
//!
//! Pure and I/O-free; time is always an argument. Semantics: `docs/routing-policy.md`.

use crate::agents::{
    id_prefix, index_insert, index_remove, Agent, AgentKey, AgentState, HeadLists, Profile, F,
};
use crate::calls::{Bucket, BucketKey, Call, CallState, HeadEntry, ScopeKey};
use crate::error::{check_id, CoreError, ErrorKind, Result};
use crate::intern::Interner;
use crate::policy::{Policy, PolicySpec, Scope};
use crate::skills::{mask_of, relaxed, Level, SkillId, MAX_LEVEL};
use rustc_hash::FxHashMap;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

/// A call as handed to `enqueue`.
#[derive(Debug, Clone, Default)]
pub struct CallSpec<'a> {
    pub id: &'a str,
    pub queue: &'a str,
    pub class: &'a str,
    pub home: &'a str,
    pub required: Option<Vec<(&'a str, i64)>>,
    pub preferred: Vec<(&'a str, f64)>,
    pub preferred_agent: Option<&'a str>,
    pub enqueued_at: Option<f64>,
}

/// Changes to an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentUpdate<'a> {
    pub centre: Option<&'a str>,
    pub skills: Option<Vec<(&'a str, i64)>>,
    pub max_calls: Option<i64>,
    pub calls_taken: Option<i64>,
    pub talk_time: Option<f64>,
}

/// A call's rank: higher priority first, then older, then smaller id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CallRank {
    pub prio: F,
    pub t: F,
    pub id: Arc<str>,
}

impl Ord for CallRank {
    /// `Greater` means ranked higher (served first).
    fn cmp(&self, o: &Self) -> Ordering {
        self.prio.cmp(&o.prio).then_with(|| o.t.cmp(&self.t)).then_with(|| o.id.cmp(&self.id))
    }
}

impl PartialOrd for CallRank {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

pub struct Core {
    pub(crate) policy: Policy,
    pub(crate) skills: Interner,
    pub(crate) centres: Interner,
    regions: Interner,
    /// Agent ids (also ids named only as a preferred agent); an agent's slot is its name id.
    pub(crate) names: Interner,
    pub(crate) agents: Vec<Option<Agent>>,
    pub(crate) profiles: Vec<Profile>,
    /// Profile heads of offerable agents per scope and skill (see `agents::HeadLists`).
    agent_lists: HeadLists,
    profile_map: FxHashMap<Box<[(SkillId, Level)]>, u32>,
    /// Per skill id, the profiles that have it.
    skill_profiles: Vec<Vec<u32>>,
    pub(crate) calls: Vec<Option<Call>>,
    call_map: FxHashMap<Arc<str>, u32>,
    free_slots: Vec<u32>,
    pub(crate) buckets: Vec<Bucket>,
    bucket_map: FxHashMap<BucketKey, u32>,
    /// Non-empty buckets per scope, split by lead skill (see `BucketKey::lead`).
    scope_lists: FxHashMap<ScopeKey, Vec<Vec<HeadEntry>>>,
    /// All buckets (empty or not) per queue.
    pub(crate) queue_buckets: Vec<Vec<u32>>,
    /// Waiting calls per queue and class.
    pub(crate) waiting: Vec<Vec<u32>>,
    pub(crate) aht: Vec<f64>,
    relax: BinaryHeap<Reverse<(F, u32, u64)>>,
    next_gen: u64,
    pub(crate) last_now: f64,
}

fn check_level(what: &str, skill: &str, level: i64) -> Result<Level> {
    if skill.is_empty() {
        return Err(CoreError::input(format!("{what}: skill name must not be empty")));
    }
    if !(0..=MAX_LEVEL as i64).contains(&level) {
        return Err(CoreError::input(format!(
            "{what}: skill {skill:?} level must be 0..={MAX_LEVEL}, got {level}"
        )));
    }
    Ok(level as Level)
}

/// `what` names the item in an error message; it is only built when there is an error.
fn check_skills(what: impl Fn() -> String, skills: &[(&str, i64)]) -> Result<()> {
    for (i, &(s, l)) in skills.iter().enumerate() {
        if s.is_empty() || !(0..=MAX_LEVEL as i64).contains(&l) {
            check_level(&what(), s, l)?;
        }
        if skills[..i].iter().any(|&(o, _)| o == s) {
            return Err(CoreError::input(format!("{}: skill {s:?} is listed twice", what())));
        }
    }
    Ok(())
}

fn check_non_negative(what: &str, x: f64) -> Result<()> {
    if !x.is_finite() || x < 0.0 {
        return Err(CoreError::input(format!("{what} must be a finite number >= 0, got {x}")));
    }
    Ok(())
}

fn check_count(what: &str, n: i64, min: i64) -> Result<()> {
    if n < min || n > u32::MAX as i64 {
        return Err(CoreError::input(format!("{what} must be an integer >= {min}, got {n}")));
    }
    Ok(())
}

impl Core {
    pub fn new(spec: &PolicySpec) -> Result<Core> {
        let mut skills = Interner::default();
        let mut centres = Interner::default();
        let mut regions = Interner::default();
        let policy = Policy::compile(spec, &mut skills, &mut centres, &mut regions)?;
        let nq = policy.queues.len();
        let nc = policy.classes.len();
        Ok(Core {
            aht: policy.queues.iter().map(|q| q.aht).collect(),
            policy,
            skills,
            centres,
            regions,
            names: Interner::default(),
            agents: Vec::new(),
            profiles: Vec::new(),
            agent_lists: HeadLists::default(),
            profile_map: FxHashMap::default(),
            skill_profiles: Vec::new(),
            calls: Vec::new(),
            call_map: FxHashMap::default(),
            free_slots: Vec::new(),
            buckets: Vec::new(),
            bucket_map: FxHashMap::default(),
            scope_lists: FxHashMap::default(),
            queue_buckets: vec![Vec::new(); nq],
            waiting: vec![vec![0; nc]; nq],
            relax: BinaryHeap::new(),
            next_gen: 0,
            last_now: 0.0,
        })
    }

    // ----- time -------------------------------------------------------------------------------

    pub(crate) fn check_time(&self, now: f64) -> Result<()> {
        if !now.is_finite() || now < 0.0 {
            return Err(CoreError::new(
                ErrorKind::InvalidTime,
                format!("now must be a finite time >= 0, got {now}"),
            ));
        }
        if now < self.last_now {
            return Err(CoreError::new(
                ErrorKind::InvalidTime,
                format!("time went backwards: now={now} but the core has already seen {}", self.last_now),
            ));
        }
        Ok(())
    }

    /// Moves the clock to `now` (already checked) and relaxes every call whose next step is due.
    pub(crate) fn advance(&mut self, now: f64) {
        self.last_now = now;
        while let Some(&Reverse((F(t), slot, gen))) = self.relax.peek() {
            if t > now {
                break;
            }
            self.relax.pop();
            let live = matches!(&self.calls[slot as usize], Some(c) if c.gen == gen);
            if live {
                self.unplace(slot);
                self.place(slot);
            }
        }
    }

    /// The next time a waiting call relaxes, if any.
    pub fn next_relaxation(&mut self) -> Option<f64> {
        while let Some(&Reverse((F(t), slot, gen))) = self.relax.peek() {
            if matches!(&self.calls[slot as usize], Some(c) if c.gen == gen) {
                return Some(t);
            }
            self.relax.pop();
        }
        None
    }

    // ----- lookups ----------------------------------------------------------------------------

    pub(crate) fn agent_slot(&self, id: &str) -> Result<u32> {
        match self.names.get(id) {
            Some(n) if self.agents.get(n as usize).is_some_and(|a| a.is_some()) => Ok(n),
            _ => Err(CoreError::unknown("agent", id)),
        }
    }

    pub(crate) fn call_slot(&self, id: &str) -> Result<u32> {
        self.call_map.get(id).copied().ok_or_else(|| CoreError::unknown("call", id))
    }

    pub(crate) fn agent(&self, slot: u32) -> &Agent {
        self.agents[slot as usize].as_ref().expect("live agent slot")
    }

    fn agent_mut(&mut self, slot: u32) -> &mut Agent {
        self.agents[slot as usize].as_mut().expect("live agent slot")
    }

    pub(crate) fn call(&self, slot: u32) -> &Call {
        self.calls[slot as usize].as_ref().expect("live call slot")
    }

    fn call_mut(&mut self, slot: u32) -> &mut Call {
        self.calls[slot as usize].as_mut().expect("live call slot")
    }

    pub fn agent_name(&self, slot: u32) -> &Arc<str> {
        self.names.name(slot)
    }

    pub fn call_id(&self, slot: u32) -> &Arc<str> {
        &self.call(slot).id
    }

    pub fn agent_ids(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = self.agents.iter().flatten().map(|a| a.id.clone()).collect();
        v.sort();
        v
    }

    pub fn waiting_calls(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = self
            .calls
            .iter()
            .flatten()
            .filter(|c| matches!(c.state, CallState::Waiting { .. }))
            .map(|c| c.id.clone())
            .collect();
        v.sort();
        v
    }

    // ----- agent index ------------------------------------------------------------------------

    fn profile_for(&mut self, skills: &[(SkillId, Level)]) -> u32 {
        if let Some(&p) = self.profile_map.get(skills) {
            return p;
        }
        let p = self.profiles.len() as u32;
        let boxed: Box<[(SkillId, Level)]> = skills.into();
        self.profiles.push(Profile::new(boxed.clone()));
        self.profile_map.insert(boxed, p);
        for &(s, _) in skills {
            let s = s as usize;
            if self.skill_profiles.len() <= s {
                self.skill_profiles.resize(s + 1, Vec::new());
            }
            self.skill_profiles[s].push(p);
        }
        p
    }

    fn agent_scopes(&self, centre: u32) -> [ScopeKey; 3] {
        [ScopeKey::Centre(centre), ScopeKey::Region(self.policy.region_of(centre)), ScopeKey::Any]
    }

    fn unindex_agent(&mut self, slot: u32) {
        let a = self.agents[slot as usize].as_ref().expect("live agent slot");
        let (pi, staffed, key) = (a.profile, a.staffed, a.indexed.clone());
        if let Some(key) = key {
            let scopes = self.agent_scopes(a.centre);
            let agents = &self.agents;
            let centre_of = |s: u32| agents[s as usize].as_ref().expect("live agent slot").centre;
            index_remove(&mut self.profiles, &mut self.agent_lists, pi, &key, &scopes, centre_of);
        }
        if staffed {
            self.profiles[pi as usize].staffed -= 1;
        }
        let a = self.agents[slot as usize].as_mut().expect("live agent slot");
        a.indexed = None;
        a.staffed = false;
    }

    fn reindex_agent(&mut self, slot: u32) {
        let a = self.agents[slot as usize].as_ref().expect("live agent slot");
        let (pi, centre) = (a.profile, a.centre);
        let key = a.offerable().then(|| AgentKey {
            fair: F(a.fair(&self.policy.selection)),
            since: F(a.available_since),
            id_prefix: id_prefix(&a.id),
            id: a.id.clone(),
            agent: slot,
        });
        let staffed = a.is_staffed();
        if let Some(key) = &key {
            let scopes = self.agent_scopes(centre);
            index_insert(&mut self.profiles, &mut self.agent_lists, pi, key, centre, &scopes);
        }
        if staffed {
            self.profiles[pi as usize].staffed += 1;
        }
        let a = self.agents[slot as usize].as_mut().expect("live agent slot");
        a.indexed = key;
        a.staffed = staffed;
    }

    /// Applies `f` to an agent, keeping the index consistent around the change.
    fn modify_agent(&mut self, slot: u32, f: impl FnOnce(&mut Agent)) {
        self.unindex_agent(slot);
        f(self.agent_mut(slot));
        self.reindex_agent(slot);
    }

    fn intern_skills(&mut self, skills: &[(&str, i64)]) -> Vec<(SkillId, Level)> {
        let mut v: Vec<(SkillId, Level)> =
            skills.iter().map(|&(s, l)| (self.skills.intern(s) as SkillId, l as Level)).collect();
        v.sort_unstable();
        v
    }

    // ----- agents -----------------------------------------------------------------------------

    pub fn add_agent(
        &mut self,
        id: &str,
        centre: &str,
        skills: &[(&str, i64)],
        max_calls: i64,
        calls_taken: i64,
        talk_time: f64,
    ) -> Result<()> {
        check_id("agent", id)?;
        check_id("centre", centre)?;
        if self.agent_slot(id).is_ok() {
            return Err(CoreError::duplicate("agent", id));
        }
        check_skills(|| format!("agent {id:?}"), skills)?;
        check_count(&format!("agent {id:?}: max_calls"), max_calls, 1)?;
        check_count(&format!("agent {id:?}: calls_taken"), calls_taken, 0)?;
        check_non_negative(&format!("agent {id:?}: talk_time"), talk_time)?;
        let slot = self.names.intern(id);
        let centre = self.centres.intern(centre);
        let skills = self.intern_skills(skills);
        let profile = self.profile_for(&skills);
        if self.agents.len() <= slot as usize {
            self.agents.resize(slot as usize + 1, None);
        }
        self.agents[slot as usize] = Some(Agent {
            name: slot,
            id: self.names.name(slot).clone(),
            centre,
            skills: skills.into(),
            profile,
            max_calls: max_calls as u32,
            state: AgentState::LoggedOut,
            reason: None,
            active: 0,
            available_since: 0.0,
            calls_taken: calls_taken as u64,
            talk_time,
            indexed: None,
            staffed: false,
        });
        self.reindex_agent(slot);
        Ok(())
    }

    pub fn update_agent(&mut self, id: &str, u: &AgentUpdate<'_>) -> Result<()> {
        let slot = self.agent_slot(id)?;
        if let Some(c) = u.centre {
            check_id("centre", c)?;
        }
        if let Some(s) = &u.skills {
            check_skills(|| format!("agent {id:?}"), s)?;
        }
        if let Some(n) = u.max_calls {
            check_count(&format!("agent {id:?}: max_calls"), n, 1)?;
        }
        if let Some(n) = u.calls_taken {
            check_count(&format!("agent {id:?}: calls_taken"), n, 0)?;
        }
        if let Some(t) = u.talk_time {
            check_non_negative(&format!("agent {id:?}: talk_time"), t)?;
        }
        let centre = u.centre.map(|c| self.centres.intern(c));
        let skills = u.skills.as_ref().map(|s| self.intern_skills(s));
        let profile = skills.as_ref().map(|s| self.profile_for(s));
        self.modify_agent(slot, |a| {
            if let Some(c) = centre {
                a.centre = c;
            }
            if let (Some(s), Some(p)) = (skills, profile) {
                a.skills = s.into();
                a.profile = p;
            }
            if let Some(n) = u.max_calls {
                a.max_calls = n as u32;
            }
            if let Some(n) = u.calls_taken {
                a.calls_taken = n as u64;
            }
            if let Some(t) = u.talk_time {
                a.talk_time = t;
            }
        });
        Ok(())
    }

    pub fn remove_agent(&mut self, id: &str) -> Result<()> {
        let slot = self.agent_slot(id)?;
        let active = self.agent(slot).active;
        if active > 0 {
            return Err(CoreError::state(format!(
                "agent {id:?} still has {active} assigned call(s); finish, requeue or remove them first"
            )));
        }
        self.unindex_agent(slot);
        self.agents[slot as usize] = None;
        Ok(())
    }

    pub fn set_agent_state(&mut self, id: &str, state: &str, now: f64, reason: Option<&str>) -> Result<()> {
        self.check_time(now)?;
        let slot = self.agent_slot(id)?;
        let state = match AgentState::parse(state) {
            Some(AgentState::Reserved) => {
                return Err(CoreError::input(
                    "state \"reserved\" is only reached by assigning a call (assign / dispatch)",
                ))
            }
            Some(s) => s,
            None => {
                return Err(CoreError::input(format!(
                    "unknown agent state {state:?} (expected one of logged_out, available, ringing, \
                     on_call, wrap_up, break)"
                )))
            }
        };
        self.advance(now);
        self.modify_agent(slot, |a| {
            if state == AgentState::Available && a.state != AgentState::Available {
                a.available_since = now;
            }
            a.state = state;
            a.reason = if state == AgentState::Break { reason.map(str::to_owned) } else { None };
        });
        Ok(())
    }

    // ----- buckets ----------------------------------------------------------------------------

    fn bucket_for(&mut self, key: BucketKey) -> u32 {
        if let Some(&b) = self.bucket_map.get(&key) {
            return b;
        }
        let b = self.buckets.len() as u32;
        let class = &self.policy.classes[key.class as usize];
        let queue = &self.policy.queues[key.queue as usize];
        self.queue_buckets[key.queue as usize].push(b);
        self.buckets.push(Bucket {
            base: class.base + queue.weight,
            ageing: class.ageing,
            mask: mask_of(&key.req),
            key: key.clone(),
            calls: VecDeque::new(),
            list_pos: None,
        });
        self.bucket_map.insert(key, b);
        b
    }

    /// A call's active step at `now`, its level relaxation, and who may take it (its scope).
    pub(crate) fn effective(&self, c: &Call, now: f64) -> (usize, Level, ScopeKey) {
        let k = self.policy.step_at(c.queue, c.enqueued_at, now);
        let step = self.policy.queues[c.queue as usize].steps[k];
        let scope = match (c.preferred_agent, step.preferred_only) {
            (Some(p), true) => ScopeKey::Agent(p),
            _ => match step.scope {
                Scope::Centre => ScopeKey::Centre(c.home),
                Scope::Region => ScopeKey::Region(self.policy.region_of(c.home)),
                Scope::Any => ScopeKey::Any,
            },
        };
        (k, step.level_delta, scope)
    }

    /// Puts a waiting call in the bucket of its current step (at `last_now`).
    fn place(&mut self, slot: u32) {
        let now = self.last_now;
        let (key, t, next) = {
            let c = self.call(slot);
            let (k, delta, scope) = self.effective(c, now);
            let key = BucketKey { queue: c.queue, class: c.class, scope, req: relaxed(&c.required, delta) };
            let next = self.policy.queues[c.queue as usize].steps.get(k + 1).map(|s| c.enqueued_at + s.after);
            (key, c.enqueued_at, next)
        };
        let b = self.bucket_for(key);
        let gen = self.next_gen;
        self.next_gen += 1;
        {
            let c = self.calls[slot as usize].as_mut().expect("live call slot");
            c.state = CallState::Waiting { bucket: b };
            c.gen = gen;
        }
        let calls = &self.calls;
        let id = &calls[slot as usize].as_ref().expect("live call slot").id;
        let bucket = &mut self.buckets[b as usize];
        let before = |&(t2, s2): &(f64, u32)| {
            let id2 = &calls[s2 as usize].as_ref().expect("live call slot").id;
            (F(t2), &**id2) < (F(t), &**id)
        };
        let pos = if bucket.calls.back().is_none_or(before) {
            bucket.calls.push_back((t, slot));
            bucket.calls.len() - 1
        } else {
            let pos = bucket.calls.partition_point(before);
            bucket.calls.insert(pos, (t, slot));
            pos
        };
        if bucket.calls.len() == 1 {
            self.list_insert(b);
        } else if pos == 0 {
            self.refresh_head(b);
        }
        if let Some(n) = next {
            self.relax.push(Reverse((F(n), slot, gen)));
        }
    }

    /// Takes a waiting call out of its bucket (its state is set by the caller).
    fn unplace(&mut self, slot: u32) {
        let CallState::Waiting { bucket: b } = self.call(slot).state else {
            return;
        };
        let (t, id) = {
            let c = self.call(slot);
            (c.enqueued_at, c.id.clone())
        };
        let calls = &self.calls;
        let bucket = &mut self.buckets[b as usize];
        let pos = if bucket.calls.front().is_some_and(|&(_, s)| s == slot) {
            0
        } else {
            bucket.calls.partition_point(|&(t2, s2)| {
                let id2 = &calls[s2 as usize].as_ref().expect("live call slot").id;
                (F(t2), &**id2) < (F(t), &*id)
            })
        };
        debug_assert_eq!(bucket.calls[pos].1, slot);
        bucket.calls.remove(pos);
        if bucket.calls.is_empty() {
            self.list_remove(b);
        } else if pos == 0 {
            self.refresh_head(b);
        }
    }

    fn head_entry(&self, b: u32) -> HeadEntry {
        let bucket = &self.buckets[b as usize];
        let &(t, slot) = bucket.calls.front().expect("non-empty bucket");
        HeadEntry { mask: bucket.mask, base: bucket.base, ageing: bucket.ageing, t, slot, bucket: b }
    }

    fn list_insert(&mut self, b: u32) {
        let entry = self.head_entry(b);
        let key = &self.buckets[b as usize].key;
        let lead = key.lead();
        let lists = self.scope_lists.entry(key.scope).or_default();
        if lists.len() <= lead {
            lists.resize(lead + 1, Vec::new());
        }
        self.buckets[b as usize].list_pos = Some(lists[lead].len());
        lists[lead].push(entry);
    }

    fn list_remove(&mut self, b: u32) {
        let Some(pos) = self.buckets[b as usize].list_pos.take() else {
            return;
        };
        let key = &self.buckets[b as usize].key;
        let list = &mut self.scope_lists.get_mut(&key.scope).expect("scope list")[key.lead()];
        list.swap_remove(pos);
        if let Some(moved) = list.get(pos) {
            self.buckets[moved.bucket as usize].list_pos = Some(pos);
        }
    }

    /// Copies a bucket's new head into its scope-list entry.
    fn refresh_head(&mut self, b: u32) {
        let Some(pos) = self.buckets[b as usize].list_pos else { return };
        let entry = self.head_entry(b);
        let key = &self.buckets[b as usize].key;
        self.scope_lists.get_mut(&key.scope).expect("scope list")[key.lead()][pos] = entry;
    }

    // ----- calls ------------------------------------------------------------------------------

    pub fn enqueue(&mut self, spec: &CallSpec<'_>, now: f64) -> Result<u32> {
        self.check_time(now)?;
        check_id("call", spec.id)?;
        if self.call_map.contains_key(spec.id) {
            return Err(CoreError::duplicate("call", spec.id));
        }
        let queue = self.policy.queue(spec.queue)?;
        let class = self.policy.class(spec.class)?;
        check_id("home centre", spec.home)?;
        let what = || format!("call {:?}", spec.id);
        if let Some(req) = &spec.required {
            check_skills(|| format!("{}: required", what()), req)?;
        }
        for &(s, w) in &spec.preferred {
            if s.is_empty() {
                return Err(CoreError::input(format!("{}: preferred skill name must not be empty", what())));
            }
            if !w.is_finite() || w < 0.0 {
                check_non_negative(&format!("{}: preferred skill {s:?} weight", what()), w)?;
            }
        }
        if let Some(p) = spec.preferred_agent {
            check_id("preferred agent", p)?;
        }
        let enqueued_at = spec.enqueued_at.unwrap_or(now);
        if !enqueued_at.is_finite() || enqueued_at < 0.0 || enqueued_at > now {
            return Err(CoreError::new(
                ErrorKind::InvalidTime,
                format!("{}: enqueued_at must be a finite time in [0, now={now}], got {enqueued_at}", what()),
            ));
        }
        self.advance(now);
        let required: Vec<(SkillId, Level)> = match &spec.required {
            Some(req) => req.iter().map(|&(s, l)| (self.skills.intern(s) as SkillId, l as Level)).collect(),
            None => self.policy.queues[queue as usize].required.clone(),
        };
        let preferred = spec.preferred.iter().map(|&(s, w)| (self.skills.intern(s) as SkillId, w)).collect();
        let preferred_agent = spec.preferred_agent.map(|p| self.names.intern(p));
        let home = self.centres.intern(spec.home);
        let id: Arc<str> = Arc::from(spec.id);
        let call = Call {
            id: id.clone(),
            queue,
            class,
            home,
            required,
            preferred,
            preferred_agent,
            enqueued_at,
            state: CallState::Assigned { agent: u32::MAX },
            gen: 0,
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.calls[s as usize] = Some(call);
                s
            }
            None => {
                self.calls.push(Some(call));
                (self.calls.len() - 1) as u32
            }
        };
        self.call_map.insert(id, slot);
        self.place(slot);
        self.waiting[queue as usize][class as usize] += 1;
        Ok(slot)
    }

    fn drop_call(&mut self, slot: u32) {
        let c = self.calls[slot as usize].take().expect("live call slot");
        self.call_map.remove(&c.id);
        self.free_slots.push(slot);
    }

    /// The agent side of a call leaving an agent without being finished.
    fn release_agent(&mut self, agent: u32) {
        self.modify_agent(agent, |a| {
            a.active -= 1;
            if a.state == AgentState::Reserved {
                a.state = AgentState::Available;
            }
        });
    }

    fn assigned_agent(&self, slot: u32) -> Result<u32> {
        match self.call(slot).state {
            CallState::Assigned { agent } => Ok(agent),
            CallState::Waiting { .. } => {
                Err(CoreError::state(format!("call {:?} is waiting, not assigned", &*self.call(slot).id)))
            }
        }
    }

    pub fn remove_call(&mut self, id: &str, now: f64) -> Result<()> {
        self.check_time(now)?;
        let slot = self.call_slot(id)?;
        self.advance(now);
        match self.call(slot).state {
            CallState::Waiting { .. } => {
                self.unplace(slot);
                let (q, k) = (self.call(slot).queue as usize, self.call(slot).class as usize);
                self.waiting[q][k] -= 1;
            }
            CallState::Assigned { agent } => self.release_agent(agent),
        }
        self.drop_call(slot);
        Ok(())
    }

    pub fn requeue(&mut self, id: &str, now: f64) -> Result<()> {
        self.check_time(now)?;
        let slot = self.call_slot(id)?;
        let agent = self.assigned_agent(slot)?;
        self.advance(now);
        self.release_agent(agent);
        self.place(slot);
        let (q, k) = (self.call(slot).queue as usize, self.call(slot).class as usize);
        self.waiting[q][k] += 1;
        Ok(())
    }

    pub fn finish(&mut self, id: &str, now: f64, talk_seconds: f64) -> Result<()> {
        self.check_time(now)?;
        let slot = self.call_slot(id)?;
        let agent = self.assigned_agent(slot)?;
        check_non_negative(&format!("call {id:?}: talk_seconds"), talk_seconds)?;
        self.advance(now);
        self.modify_agent(agent, |a| {
            a.active -= 1;
            a.calls_taken += 1;
            a.talk_time += talk_seconds;
        });
        let q = self.call(slot).queue as usize;
        self.aht[q] = 0.9 * self.aht[q] + 0.1 * talk_seconds;
        self.drop_call(slot);
        Ok(())
    }

    // ----- decisions --------------------------------------------------------------------------

    pub(crate) fn rank_of(&self, bucket: &Bucket, t: f64, slot: u32, now: f64) -> CallRank {
        CallRank { prio: F(bucket.base + bucket.ageing * (now - t)), t: F(t), id: self.call(slot).id.clone() }
    }

    /// The best waiting call the (offerable) agent may take: `(bucket, call slot)`.
    fn best_call_for(&self, agent: u32, now: f64) -> Option<(u32, u32)> {
        let a = self.agent(agent);
        let p = &self.profiles[a.profile as usize];
        let scopes = [
            ScopeKey::Centre(a.centre),
            ScopeKey::Region(self.policy.region_of(a.centre)),
            ScopeKey::Any,
            ScopeKey::Agent(a.name),
        ];
        let mut best: Option<(f64, f64, u32, u32)> = None;
        let mut consider = |e: &HeadEntry| {
            let prio = e.base + e.ageing * (now - e.t);
            if let Some((bp, bt, _, _)) = best {
                // Cheap rejection first; ties on (prio, t) fall through to the id comparison.
                if prio < bp || (prio == bp && e.t > bt) {
                    return;
                }
            }
            if e.mask & !p.mask != 0 || !p.levels.satisfies(&self.buckets[e.bucket as usize].key.req) {
                return;
            }
            let better = match best {
                None => true,
                Some((bp, bt, bs, _)) => prio > bp || e.t < bt || self.call(e.slot).id < self.call(bs).id,
            };
            if better {
                best = Some((prio, e.t, e.slot, e.bucket));
            }
        };
        for sk in scopes {
            let Some(lists) = self.scope_lists.get(&sk) else { continue };
            if let Some(l) = lists.first() {
                l.iter().for_each(&mut consider);
            }
            for &(s, _) in p.skills.iter() {
                if let Some(l) = lists.get(s as usize + 1) {
                    l.iter().for_each(&mut consider);
                }
            }
        }
        best.map(|(_, _, slot, b)| (b, slot))
    }

    /// `skill_score` of the spec for agents of profile `p` and this call.
    pub(crate) fn skill_score(&self, p: &Profile, c: &Call) -> f64 {
        let mut s = 0.0;
        for &(skill, _) in &c.required {
            s += self.policy.skill_weight(skill) * p.levels.get(skill).unwrap_or(0) as f64;
        }
        for &(skill, w) in &c.preferred {
            s += w * p.levels.get(skill).unwrap_or(0) as f64;
        }
        s
    }

    pub(crate) fn score(&self, skill_score: f64, home: bool, fair: f64) -> f64 {
        let sel = &self.policy.selection;
        (sel.skill * skill_score + sel.home * if home { 1.0 } else { 0.0 }) - fair
    }

    /// The best offerable agent eligible for a waiting call.
    fn best_agent_for(&self, slot: u32) -> Option<u32> {
        let c = self.call(slot);
        let CallState::Waiting { bucket } = c.state else { return None };
        let bucket = &self.buckets[bucket as usize];
        let req = &bucket.key.req;
        if let ScopeKey::Agent(p) = bucket.key.scope {
            let a = self.agents.get(p as usize)?.as_ref()?;
            let ok = a.offerable() && self.profiles[a.profile as usize].levels.satisfies(req);
            return ok.then_some(p);
        }
        let (wide, home_too) = match bucket.key.scope {
            ScopeKey::Centre(h) => (ScopeKey::Centre(h), false),
            other => (other, true),
        };
        // Scan the head list of the rarest required skill (list 0, every profile, when none).
        let lists_of = |sk: ScopeKey| self.agent_lists.get(&sk);
        let li = match req
            .iter()
            .min_by_key(|&&(s, _)| lists_of(wide).and_then(|l| l.get(s as usize + 1)).map_or(0, Vec::len))
        {
            Some(&(s, _)) => s as usize + 1,
            None => 0,
        };
        // One required skill and no preferred ones: eligibility and skill score come from the
        // head entry itself, without touching the profile.
        let simple = li > 0 && req.len() == 1 && c.preferred.is_empty();
        let weight = if simple { self.policy.skill_weight(req[0].0) } else { 0.0 };
        let mut best: Option<(f64, f64, f64, u32)> = None;
        let scopes = [Some(wide), home_too.then_some(ScopeKey::Centre(c.home))];
        for sk in scopes.into_iter().flatten() {
            let Some(list) = lists_of(sk).and_then(|l| l.get(li)) else { continue };
            for e in list {
                if e.mask & bucket.mask != bucket.mask {
                    continue;
                }
                let skill = if simple {
                    if e.level < req[0].1 {
                        continue;
                    }
                    weight * e.level as f64
                } else {
                    let p = &self.profiles[e.profile as usize];
                    if !p.levels.satisfies(req) {
                        continue;
                    }
                    self.skill_score(p, c)
                };
                let score = self.score(skill, e.centre == c.home, e.fair);
                let better = match best {
                    None => true,
                    Some((bs, bf, bt, ba)) => {
                        score > bs
                            || (score == bs
                                && (e.fair < bf
                                    || (e.fair == bf
                                        && (e.since < bt
                                            || (e.since == bt
                                                && self.agent(e.agent).id < self.agent(ba).id)))))
                    }
                };
                if better {
                    best = Some((score, e.fair, e.since, e.agent));
                }
            }
        }
        best.map(|(_, _, _, a)| a)
    }

    /// Why `agent` may not take waiting call `slot` now (empty when eligible).
    pub(crate) fn ineligibility(&self, slot: u32, agent: u32, now: f64) -> Vec<String> {
        let mut why = Vec::new();
        let a = self.agent(agent);
        let c = self.call(slot);
        if a.state != AgentState::Available {
            why.push(format!("agent {} is {}", a.id, a.state.name()));
        }
        if a.active >= a.max_calls {
            why.push(format!("agent {} is at max_calls ({})", a.id, a.max_calls));
        }
        if let CallState::Assigned { .. } = c.state {
            why.push(format!("call {} is assigned", c.id));
        }
        let (_, delta, scope) = self.effective(c, now);
        let levels = &self.profiles[a.profile as usize].levels;
        for &(s, min) in &c.required {
            let need = min.saturating_sub(delta);
            match levels.get(s) {
                None => why.push(format!("lacks skill {}", self.skills.name(s as u32))),
                Some(have) if have < need => {
                    why.push(format!("{} level {have} < {need}", self.skills.name(s as u32)))
                }
                Some(_) => {}
            }
        }
        let home = self.centres.name(c.home);
        let centre = self.centres.name(a.centre);
        match scope {
            ScopeKey::Centre(h) if a.centre != h => {
                why.push(format!("centre {centre} is not home centre {home}"))
            }
            ScopeKey::Region(r) if self.policy.region_of(a.centre) != r => {
                why.push(format!("centre {centre} is not in the region of {home}"))
            }
            ScopeKey::Agent(p) if a.name != p => {
                why.push(format!("call waits for preferred agent {}", self.names.name(p)))
            }
            _ => {}
        }
        why
    }

    fn commit(&mut self, slot: u32, agent: u32) {
        self.unplace(slot);
        let gen = self.next_gen;
        self.next_gen += 1;
        let c = self.call_mut(slot);
        c.state = CallState::Assigned { agent };
        c.gen = gen;
        let (q, k) = (c.queue as usize, c.class as usize);
        self.waiting[q][k] -= 1;
        self.modify_agent(agent, |a| {
            a.active += 1;
            if a.active >= a.max_calls {
                a.state = AgentState::Reserved;
            }
        });
    }

    fn waiting_slot(&self, id: &str) -> Result<u32> {
        let slot = self.call_slot(id)?;
        if let CallState::Assigned { .. } = self.call(slot).state {
            return Err(CoreError::state(format!("call {id:?} is already assigned")));
        }
        Ok(slot)
    }

    fn offerable_slot(&self, id: &str) -> Result<u32> {
        let slot = self.agent_slot(id)?;
        let a = self.agent(slot);
        if !a.offerable() {
            return Err(CoreError::state(format!(
                "agent {id:?} cannot take a call: it is {} with {}/{} calls",
                a.state.name(),
                a.active,
                a.max_calls
            )));
        }
        Ok(slot)
    }

    pub fn best_agent(&mut self, call: &str, now: f64) -> Result<Option<u32>> {
        self.check_time(now)?;
        let slot = self.waiting_slot(call)?;
        self.advance(now);
        Ok(self.best_agent_for(slot))
    }

    pub fn best_call(&mut self, agent: &str, now: f64) -> Result<Option<u32>> {
        self.check_time(now)?;
        let a = self.offerable_slot(agent)?;
        self.advance(now);
        Ok(self.best_call_for(a, now).map(|(_, slot)| slot))
    }

    pub fn assign(&mut self, call: &str, agent: &str, now: f64) -> Result<()> {
        self.check_time(now)?;
        let slot = self.waiting_slot(call)?;
        let a = self.agent_slot(agent)?;
        // Judged at `now` before anything moves, so that a refusal leaves the state untouched.
        let why = self.ineligibility(slot, a, now);
        if !why.is_empty() {
            return Err(CoreError::state(format!(
                "agent {agent:?} may not take call {call:?}: {}",
                why.join("; ")
            )));
        }
        self.advance(now);
        self.commit(slot, a);
        Ok(())
    }

    pub fn dispatch_call(&mut self, call: &str, now: f64) -> Result<Option<u32>> {
        self.check_time(now)?;
        let slot = self.waiting_slot(call)?;
        self.advance(now);
        let agent = self.best_agent_for(slot);
        if let Some(a) = agent {
            self.commit(slot, a);
        }
        Ok(agent)
    }

    pub fn dispatch_agent(&mut self, agent: &str, now: f64) -> Result<Option<u32>> {
        self.check_time(now)?;
        let a = self.offerable_slot(agent)?;
        self.advance(now);
        let found = self.best_call_for(a, now);
        if let Some((_, slot)) = found {
            self.commit(slot, a);
        }
        Ok(found.map(|(_, slot)| slot))
    }

    /// Greedy batch matching in call rank. Every call of a bucket is eligible for the same agents,
    /// so a bucket whose head finds no agent is done for the whole batch.
    pub fn match_all(&mut self, now: f64) -> Result<Vec<(u32, u32)>> {
        self.check_time(now)?;
        self.advance(now);
        let mut heap: BinaryHeap<(CallRank, u32)> = BinaryHeap::new();
        for (b, bucket) in self.buckets.iter().enumerate() {
            if let Some(&(t, slot)) = bucket.calls.front() {
                heap.push((self.rank_of(bucket, t, slot, now), b as u32));
            }
        }
        let mut pairs = Vec::new();
        while let Some((_, b)) = heap.pop() {
            let &(_, slot) = self.buckets[b as usize].calls.front().expect("non-empty bucket");
            let Some(agent) = self.best_agent_for(slot) else { continue };
            self.commit(slot, agent);
            pairs.push((slot, agent));
            let bucket = &self.buckets[b as usize];
            if let Some(&(t, next)) = bucket.calls.front() {
                heap.push((self.rank_of(bucket, t, next, now), b));
            }
        }
        Ok(pairs)
    }

    // ----- policy -----------------------------------------------------------------------------

    pub fn set_policy(&mut self, spec: &PolicySpec, now: f64) -> Result<()> {
        self.check_time(now)?;
        let policy = Policy::compile(spec, &mut self.skills, &mut self.centres, &mut self.regions)?;
        let mut remap = Vec::with_capacity(self.calls.len());
        for c in self.calls.iter() {
            remap.push(match c {
                None => None,
                Some(c) => {
                    let qn = &self.policy.queues[c.queue as usize].name;
                    let cn = &self.policy.classes[c.class as usize].name;
                    let q = policy.queue_index.get(qn).copied().ok_or_else(|| {
                        CoreError::policy(format!(
                            "queues: queue {qn:?} is removed but call {:?} is in it",
                            &*c.id
                        ))
                    })?;
                    let k = policy.class_index.get(cn).copied().ok_or_else(|| {
                        CoreError::policy(format!(
                            "classes: class {cn:?} is removed but call {:?} has it",
                            &*c.id
                        ))
                    })?;
                    Some((q, k))
                }
            });
        }
        let aht = policy
            .queues
            .iter()
            .map(|q| match self.policy.queue_index.get(&q.name) {
                Some(&old) => self.aht[old as usize],
                None => q.aht,
            })
            .collect();
        self.policy = policy;
        self.aht = aht;
        self.last_now = now;
        let nq = self.policy.queues.len();
        self.buckets.clear();
        self.bucket_map.clear();
        self.scope_lists.clear();
        self.queue_buckets = vec![Vec::new(); nq];
        self.waiting = vec![vec![0; self.policy.classes.len()]; nq];
        self.relax.clear();
        for (slot, m) in remap.into_iter().enumerate() {
            let Some((q, k)) = m else { continue };
            let c = self.calls[slot].as_mut().expect("live call slot");
            c.queue = q;
            c.class = k;
            if let CallState::Waiting { .. } = c.state {
                self.waiting[q as usize][k as usize] += 1;
                self.place(slot as u32);
            }
        }
        for p in self.profiles.iter_mut() {
            p.clear_index();
        }
        self.agent_lists.clear();
        for slot in 0..self.agents.len() as u32 {
            if let Some(a) = self.agents[slot as usize].as_mut() {
                a.indexed = None;
                a.staffed = false;
                self.reindex_agent(slot);
            }
        }
        Ok(())
    }
}
