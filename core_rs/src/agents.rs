//! Agents, their states, and the index of offerable agents by skill profile, centre and region.

use crate::policy::{RegionKey, Selection};
use crate::skills::{mask_of, Level, Levels, Mask, SkillId};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A float with a total order. NaN never enters the core (inputs are validated), and -0.0 == 0.0
/// as in Python, so both implementations of the policy order floats alike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F(pub f64);

impl Eq for F {}

impl PartialOrd for F {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for F {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    Available,
    Reserved,
    Ringing,
    OnCall,
    WrapUp,
    Break,
}

impl AgentState {
    pub const ALL: [AgentState; 7] = [
        AgentState::LoggedOut,
        AgentState::Available,
        AgentState::Reserved,
        AgentState::Ringing,
        AgentState::OnCall,
        AgentState::WrapUp,
        AgentState::Break,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Available => "available",
            AgentState::Reserved => "reserved",
            AgentState::Ringing => "ringing",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::Break => "break",
        }
    }

    pub fn parse(s: &str) -> Option<AgentState> {
        Self::ALL.into_iter().find(|st| st.name() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub name: u32,
    pub id: Arc<str>,
    pub centre: u32,
    pub skills: Box<[(SkillId, Level)]>,
    pub profile: u32,
    pub max_calls: u32,
    pub state: AgentState,
    pub reason: Option<String>,
    pub active: u32,
    pub available_since: f64,
    pub calls_taken: u64,
    pub talk_time: f64,
    /// The key under which the agent sits in its profile's sets, while offerable.
    pub indexed: Option<AgentKey>,
    /// Whether the agent is counted in its profile's staffed count.
    pub staffed: bool,
}

impl Agent {
    /// Can be offered a call now.
    pub fn offerable(&self) -> bool {
        self.state == AgentState::Available && self.active < self.max_calls
    }

    /// Counts towards a queue's staffing (for expected wait).
    pub fn is_staffed(&self) -> bool {
        !matches!(self.state, AgentState::LoggedOut | AgentState::Break)
    }

    /// `idle * available_since + talk * talk_time`: lower is fairer to pick.
    pub fn fair(&self, sel: &Selection) -> f64 {
        sel.idle * self.available_since + sel.talk * self.talk_time
    }
}

/// Agents of one profile ordered by (fair, available_since, id): the head is the best of the set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentKey {
    pub fair: F,
    pub since: F,
    pub id: Arc<str>,
    pub agent: u32,
}

/// All agents with exactly the same skills and levels. Their skill score for a call is the same,
/// so the best offerable one in any centre or region is the head of the matching set.
#[derive(Debug, Clone)]
pub struct Profile {
    pub skills: Box<[(SkillId, Level)]>,
    pub mask: Mask,
    pub levels: Levels,
    pub all: BTreeSet<AgentKey>,
    pub by_region: FxHashMap<RegionKey, BTreeSet<AgentKey>>,
    pub by_centre: FxHashMap<u32, BTreeSet<AgentKey>>,
    pub staffed: u32,
}

impl Profile {
    pub fn new(skills: Box<[(SkillId, Level)]>) -> Self {
        Profile {
            mask: mask_of(&skills),
            levels: Levels::from_sorted(&skills),
            skills,
            all: BTreeSet::new(),
            by_region: FxHashMap::default(),
            by_centre: FxHashMap::default(),
            staffed: 0,
        }
    }

    pub fn insert(&mut self, key: AgentKey, centre: u32, region: RegionKey) {
        self.by_region.entry(region).or_default().insert(key.clone());
        self.by_centre.entry(centre).or_default().insert(key.clone());
        self.all.insert(key);
    }

    pub fn remove(&mut self, key: &AgentKey, centre: u32, region: RegionKey) {
        self.all.remove(key);
        if let Some(set) = self.by_region.get_mut(&region) {
            set.remove(key);
        }
        if let Some(set) = self.by_centre.get_mut(&centre) {
            set.remove(key);
        }
    }

    pub fn clear_index(&mut self) {
        self.all.clear();
        self.by_region.clear();
        self.by_centre.clear();
        self.staffed = 0;
    }

    pub fn head_in_centre(&self, centre: u32) -> Option<&AgentKey> {
        self.by_centre.get(&centre).and_then(|s| s.first())
    }

    pub fn head_in_region(&self, region: RegionKey) -> Option<&AgentKey> {
        self.by_region.get(&region).and_then(|s| s.first())
    }
}
