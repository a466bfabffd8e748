//! Read-only views: agent and call records, explanations, positions, expected wait, statistics.

use crate::agents::F;
use crate::calls::CallState;
use crate::core::{CallRank, Core};
use crate::error::{CoreError, Result};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct AgentInfo {
    pub id: Arc<str>,
    pub centre: Arc<str>,
    pub skills: Vec<(Arc<str>, u8)>,
    pub max_calls: u32,
    pub state: &'static str,
    pub reason: Option<String>,
    pub active: u32,
    pub available_since: f64,
    pub calls_taken: u64,
    pub talk_time: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallInfo {
    pub id: Arc<str>,
    pub queue: Arc<str>,
    pub class: Arc<str>,
    pub home: Arc<str>,
    pub required: Vec<(Arc<str>, u8)>,
    pub preferred: Vec<(Arc<str>, f64)>,
    pub preferred_agent: Option<Arc<str>>,
    pub enqueued_at: f64,
    pub waiting: bool,
    pub agent: Option<Arc<str>>,
}

/// The score breakdown behind a decision (see `explain` in docs/routing-policy.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub eligible: bool,
    pub reasons: Vec<String>,
    pub step: usize,
    pub scope: &'static str,
    pub priority: f64,
    pub skill_score: f64,
    pub home: bool,
    pub fair: f64,
    pub score: f64,
    pub idle: f64,
    pub talk_time: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub waiting: u32,
    pub by_class: Vec<(Arc<str>, u32)>,
    pub longest_wait: f64,
    pub aht: f64,
    pub staffed: u32,
}

impl Core {
    pub fn agent_info(&self, id: &str) -> Result<AgentInfo> {
        let a = self.agent(self.agent_slot(id)?);
        Ok(AgentInfo {
            id: a.id.clone(),
            centre: self.centres.name(a.centre).clone(),
            skills: a.skills.iter().map(|&(s, l)| (self.skills.name(s as u32).clone(), l)).collect(),
            max_calls: a.max_calls,
            state: a.state.name(),
            reason: a.reason.clone(),
            active: a.active,
            available_since: a.available_since,
            calls_taken: a.calls_taken,
            talk_time: a.talk_time,
        })
    }

    pub fn call_info(&self, id: &str) -> Result<CallInfo> {
        let c = self.call(self.call_slot(id)?);
        let (waiting, agent) = match c.state {
            CallState::Waiting { .. } => (true, None),
            CallState::Assigned { agent } => (false, Some(self.names.name(agent).clone())),
        };
        Ok(CallInfo {
            id: c.id.clone(),
            queue: self.policy.queues[c.queue as usize].name.clone(),
            class: self.policy.classes[c.class as usize].name.clone(),
            home: self.centres.name(c.home).clone(),
            required: c.required.iter().map(|&(s, l)| (self.skills.name(s as u32).clone(), l)).collect(),
            preferred: c.preferred.iter().map(|&(s, w)| (self.skills.name(s as u32).clone(), w)).collect(),
            preferred_agent: c.preferred_agent.map(|p| self.names.name(p).clone()),
            enqueued_at: c.enqueued_at,
            waiting,
            agent,
        })
    }

    pub fn explain(&mut self, call: &str, agent: &str, now: f64) -> Result<Explanation> {
        self.check_time(now)?;
        let slot = self.call_slot(call)?;
        let a = self.agent_slot(agent)?;
        self.advance(now);
        let c = self.call(slot);
        let ag = self.agent(a);
        let q = &self.policy.queues[c.queue as usize];
        let class = &self.policy.classes[c.class as usize];
        let (step, _, scope) = self.effective(c, now);
        let priority = (class.base + q.weight) + class.ageing * (now - c.enqueued_at);
        let skill_score = self.skill_score(&self.profiles[ag.profile as usize], c);
        let home = ag.centre == c.home;
        let fair = ag.fair(&self.policy.selection);
        let reasons = self.ineligibility(slot, a, now);
        Ok(Explanation {
            eligible: reasons.is_empty(),
            reasons,
            step,
            scope: scope.name(),
            priority,
            skill_score,
            home,
            fair,
            score: self.score(skill_score, home, fair),
            idle: now - ag.available_since,
            talk_time: ag.talk_time,
        })
    }

    /// Agents not logged out and not on break that have every skill the queue requires.
    fn staffed(&self, queue: u16) -> u32 {
        let req = &self.policy.queues[queue as usize].required;
        self.profiles.iter().filter(|p| p.levels.satisfies(req)).map(|p| p.staffed).sum()
    }

    fn ewt(&self, queue: u16, position: u32) -> Option<f64> {
        let staffed = self.staffed(queue);
        (staffed > 0).then(|| position as f64 * self.aht[queue as usize] / staffed as f64)
    }

    /// Calls of `queue` for which `above(rank)` holds; within a bucket it holds for a prefix.
    fn count_in_queue(&self, queue: u16, now: f64, above: impl Fn(&CallRank) -> bool) -> u32 {
        let mut n = 0;
        for &b in &self.queue_buckets[queue as usize] {
            let bucket = &self.buckets[b as usize];
            n += bucket.calls.partition_point(|&(t, s)| above(&self.rank_of(bucket, t, s, now))) as u32;
        }
        n
    }

    pub fn call_position(&mut self, call: &str, now: f64) -> Result<(u32, Option<f64>)> {
        self.check_time(now)?;
        let slot = self.call_slot(call)?;
        let CallState::Waiting { .. } = self.call(slot).state else {
            return Err(CoreError::state(format!("call {call:?} is assigned, not waiting")));
        };
        self.advance(now);
        let queue = self.call(slot).queue;
        let c = self.call(slot);
        let me = CallRank {
            prio: F((self.policy.classes[c.class as usize].base + self.policy.queues[queue as usize].weight)
                + self.policy.classes[c.class as usize].ageing * (now - c.enqueued_at)),
            t: F(c.enqueued_at),
            id: c.id.clone(),
        };
        let position = 1 + self.count_in_queue(queue, now, |r| *r > me);
        Ok((position, self.ewt(queue, position)))
    }

    pub fn expected_wait(&mut self, queue: &str, class: &str, now: f64) -> Result<Option<f64>> {
        self.check_time(now)?;
        let q = self.policy.queue(queue)?;
        let k = self.policy.class(class)?;
        self.advance(now);
        let cl = &self.policy.classes[k as usize];
        // A newcomer has waited 0 s: its priority is exactly base + weight.
        let p0 = cl.base + self.policy.queues[q as usize].weight;
        let position = 1 + self.count_in_queue(q, now, |r| r.prio.0 >= p0);
        Ok(self.ewt(q, position))
    }

    pub fn queue_stats(&mut self, queue: &str, now: f64) -> Result<QueueStats> {
        self.check_time(now)?;
        let q = self.policy.queue(queue)?;
        self.advance(now);
        let counts = &self.waiting[q as usize];
        let oldest = self.queue_buckets[q as usize]
            .iter()
            .filter_map(|&b| self.buckets[b as usize].calls.front().map(|&(t, _)| t))
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
        Ok(QueueStats {
            waiting: counts.iter().sum(),
            by_class: self.policy.classes.iter().zip(counts).map(|(c, &n)| (c.name.clone(), n)).collect(),
            longest_wait: oldest.map_or(0.0, |t| now - t),
            aht: self.aht[q as usize],
            staffed: self.staffed(q),
        })
    }
}
