//! Agents, their states, and the index of offerable agents by skill profile, centre and region.

use crate::calls::ScopeKey;
use crate::policy::Selection;
use crate::skills::{mask_of, Level, Levels, Mask, SkillId};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::VecDeque;
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
    /// The id's first 16 bytes, big-endian and zero-padded: orders like the id itself, so most
    /// ties on (fair, since) are settled without comparing strings.
    pub id_prefix: u128,
    pub id: Arc<str>,
    pub agent: u32,
}

/// See `AgentKey::id_prefix`.
pub fn id_prefix(id: &str) -> u128 {
    let mut buf = [0u8; 16];
    let n = id.len().min(16);
    buf[..n].copy_from_slice(&id.as_bytes()[..n]);
    u128::from_be_bytes(buf)
}

/// The offerable agents of one profile within one scope (a centre, a region, or everywhere), and
/// where the scope's head lists hold this set's head (`pos[0]` in list 0, `pos[j]` in the list of the profile's `j`-th skill).
#[derive(Debug, Clone, Default)]
pub struct HeadSet {
    pub set: SortedKeys,
    pub pos: Vec<usize>,
}

/// Agent keys in ascending order. A deque, because the usual traffic is at the ends: an agent who
/// just became available has the latest `since` (goes to the back) and the best one (the front) is
/// the one taken.
#[derive(Debug, Clone, Default)]
pub struct SortedKeys(VecDeque<AgentKey>);

impl SortedKeys {
    pub fn first(&self) -> Option<&AgentKey> {
        self.0.front()
    }

    pub fn insert(&mut self, key: AgentKey) {
        match self.0.back() {
            Some(last) if *last > key => {
                let at = self.0.partition_point(|k| *k < key);
                self.0.insert(at, key);
            }
            _ => self.0.push_back(key),
        }
    }

    pub fn remove(&mut self, key: &AgentKey) {
        // An agent has one key at a time, so its slot identifies it (no string compare).
        if self.0.front().is_some_and(|k| k.agent == key.agent) {
            self.0.pop_front();
        } else if let Ok(at) = self.0.binary_search(key) {
            self.0.remove(at);
        }
    }
}

/// A profile's best offerable agent in one scope, copied into the scope's head lists so that the
/// search for an agent scans contiguous memory. `level` is the profile's level in the list's skill.
#[derive(Clone, Copy, Debug)]
pub struct AgentHead {
    pub mask: Mask,
    pub fair: f64,
    pub since: f64,
    pub agent: u32,
    pub profile: u32,
    pub centre: u32,
    pub level: Level,
}

/// Per scope, lists of profile heads: list 0 holds every profile, list `s + 1` the profiles that
/// have skill `s`.
pub type HeadLists = FxHashMap<ScopeKey, Vec<Vec<AgentHead>>>;

/// All agents with exactly the same skills and levels. Their skill score for a call is the same,
/// so the best offerable one in any centre or region is the head of the matching set.
#[derive(Debug, Clone)]
pub struct Profile {
    pub skills: Box<[(SkillId, Level)]>,
    pub mask: Mask,
    pub levels: Levels,
    pub sets: FxHashMap<ScopeKey, HeadSet>,
    pub staffed: u32,
}

impl Profile {
    pub fn new(skills: Box<[(SkillId, Level)]>) -> Self {
        Profile {
            mask: mask_of(&skills),
            levels: Levels::from_sorted(&skills),
            skills,
            sets: FxHashMap::default(),
            staffed: 0,
        }
    }

    /// Which of the profile's lists (`j`: 0 for list 0, else 1 + the skill's position) is list `li`.
    fn slot_of_list(&self, li: usize) -> usize {
        if li == 0 {
            0
        } else {
            1 + self
                .skills
                .iter()
                .position(|&(s, _)| s as usize + 1 == li)
                .expect("profile has the list's skill")
        }
    }

    pub fn clear_index(&mut self) {
        self.sets.clear();
        self.staffed = 0;
    }
}

/// Adds an offerable agent to its profile's sets for each scope, keeping head lists current.
pub fn index_insert(
    profiles: &mut [Profile],
    lists: &mut HeadLists,
    pi: u32,
    key: &AgentKey,
    centre: u32,
    scopes: &[ScopeKey],
) {
    for &sk in scopes {
        let hs = profiles[pi as usize].sets.entry(sk).or_default();
        let new_head = hs.set.first().is_none_or(|h| key < h);
        hs.set.insert(key.clone());
        if new_head {
            head_changed(profiles, lists, pi, sk, centre);
        }
    }
}

/// Removes an agent from its profile's sets for each scope, keeping head lists current.
pub fn index_remove(
    profiles: &mut [Profile],
    lists: &mut HeadLists,
    pi: u32,
    key: &AgentKey,
    scopes: &[ScopeKey],
    centre_of: impl Fn(u32) -> u32,
) {
    for &sk in scopes {
        let Some(hs) = profiles[pi as usize].sets.get_mut(&sk) else { continue };
        let was_head = hs.set.first().is_some_and(|k| k.agent == key.agent);
        hs.set.remove(key);
        if was_head {
            let centre = hs.set.first().map_or(0, |h| centre_of(h.agent));
            head_changed(profiles, lists, pi, sk, centre);
        }
    }
}

fn head_changed(profiles: &mut [Profile], lists: &mut HeadLists, pi: u32, sk: ScopeKey, centre: u32) {
    let lists = lists.entry(sk).or_default();
    let p = &mut profiles[pi as usize];
    let n = p.skills.len() + 1;
    let hs = p.sets.get_mut(&sk).expect("head set");
    let head = hs.set.first().cloned();
    match head {
        None => {
            // The set emptied: drop its entries. Each swap_remove moves another profile's entry,
            // whose back-pointer is fixed at once (it is never `pi`'s own: one entry per list).
            let mut pos = std::mem::take(&mut hs.pos);
            for (j, &at) in pos.iter().enumerate() {
                let li = if j == 0 { 0 } else { profiles[pi as usize].skills[j - 1].0 as usize + 1 };
                let list = &mut lists[li];
                list.swap_remove(at);
                if let Some(moved) = list.get(at) {
                    let q = &mut profiles[moved.profile as usize];
                    let jq = q.slot_of_list(li);
                    q.sets.get_mut(&sk).expect("head set").pos[jq] = at;
                }
            }
            pos.clear();
            profiles[pi as usize].sets.get_mut(&sk).expect("head set").pos = pos;
        }
        Some(h) => {
            let fresh = hs.pos.is_empty();
            let (mask, skills) = (p.mask, &p.skills);
            for j in 0..n {
                let (li, level) =
                    if j == 0 { (0, 0) } else { (skills[j - 1].0 as usize + 1, skills[j - 1].1) };
                let entry = AgentHead {
                    mask,
                    fair: h.fair.0,
                    since: h.since.0,
                    agent: h.agent,
                    profile: pi,
                    centre,
                    level,
                };
                if lists.len() <= li {
                    lists.resize(li + 1, Vec::new());
                }
                if fresh {
                    hs.pos.push(lists[li].len());
                    lists[li].push(entry);
                } else {
                    lists[li][hs.pos[j]] = entry;
                }
            }
        }
    }
}
