//! Waiting calls and the buckets that hold them.
//!
//! A bucket holds the waiting calls of one queue and class that have the same *effective*
//! requirements right now (skills after relaxation, and scope: home centre, region, anywhere, or a
//! preferred agent). Every call in a bucket is eligible for exactly the same agents, and its calls
//! are in priority order (same class, so older is higher), so only a bucket's head ever needs to be
//! looked at. As calls relax they move between buckets.

use crate::policy::RegionKey;
use crate::skills::{Level, Mask, SkillId};
use std::collections::VecDeque;
use std::sync::Arc;

/// Who may take the calls of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKey {
    Centre(u32),
    Region(RegionKey),
    Any,
    Agent(u32),
}

impl ScopeKey {
    pub fn name(self) -> &'static str {
        match self {
            ScopeKey::Centre(_) => "centre",
            ScopeKey::Region(_) => "region",
            ScopeKey::Any => "any",
            ScopeKey::Agent(_) => "agent",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub queue: u16,
    pub class: u16,
    pub scope: ScopeKey,
    /// Effective requirements, sorted by skill id.
    pub req: Box<[(SkillId, Level)]>,
}

impl BucketKey {
    /// Index of the list (in a scope's lists) that holds this bucket: 0 without requirements,
    /// else 1 + the lowest required skill id, so an agent only visits lists of skills it has.
    pub fn lead(&self) -> usize {
        self.req.first().map_or(0, |&(s, _)| s as usize + 1)
    }
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: BucketKey,
    /// `class.base + queue.weight`.
    pub base: f64,
    pub ageing: f64,
    pub mask: Mask,
    /// `(enqueued_at, call slot)`, ordered by `(enqueued_at, call id)`.
    pub calls: VecDeque<(f64, u32)>,
    /// Position in its scope list while non-empty.
    pub list_pos: Option<usize>,
}

/// A non-empty bucket in its scope list, with a copy of what ranking its head needs, so that an
/// agent looking for a call scans one contiguous array and touches a bucket only to confirm it.
#[derive(Clone, Copy, Debug)]
pub struct HeadEntry {
    pub mask: Mask,
    pub base: f64,
    pub ageing: f64,
    /// The head call's `enqueued_at` and slot.
    pub t: f64,
    pub slot: u32,
    pub bucket: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    Waiting { bucket: u32 },
    Assigned { agent: u32 },
}

#[derive(Debug, Clone)]
pub struct Call {
    pub id: Arc<str>,
    pub queue: u16,
    pub class: u16,
    pub home: u32,
    /// In the caller's order (scores add in this order).
    pub required: Vec<(SkillId, Level)>,
    pub preferred: Vec<(SkillId, f64)>,
    pub preferred_agent: Option<u32>,
    pub enqueued_at: f64,
    pub state: CallState,
    /// Identifies the current placement; relaxation entries for older placements are ignored.
    pub gen: u64,
}
