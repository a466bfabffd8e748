//! esl-router's routing core: waiting calls, agents, skill scoring, class priority with ageing,
//! relaxation over wait time, and the matching that pairs them. Pure and I/O-free: time is an
//! argument, nothing here reads a clock or touches Python (the bindings live in `python.rs`, built
//! only with the `python` feature). Semantics: `docs/routing-policy.md`.

pub mod agents;
pub mod calls;
pub mod core;
pub mod error;
pub mod intern;
pub mod policy;
pub mod report;
pub mod skills;

#[cfg(feature = "python")]
mod python;

pub use crate::core::{AgentUpdate, CallSpec, Core};
pub use crate::error::{CoreError, ErrorKind, Result};
pub use crate::policy::{ClassSpec, PolicySpec, QueueSpec, SelectionSpec, StepSpec};

#[cfg(test)]
mod tests;
