//! Errors of the core: one kind per Python exception class, with a message naming the offending item.

use std::fmt;

/// Which Python exception an error becomes (see `router/_core.pyi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnknownId,
    DuplicateId,
    InvalidState,
    InvalidTime,
    Policy,
    InvalidInput,
}

/// A refused operation. The core's state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreError {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CoreError { kind, message: message.into() }
    }
    pub fn unknown(what: &str, id: &str) -> Self {
        Self::new(ErrorKind::UnknownId, format!("unknown {what} {id:?}"))
    }
    pub fn duplicate(what: &str, id: &str) -> Self {
        Self::new(ErrorKind::DuplicateId, format!("{what} {id:?} already exists"))
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidState, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn policy(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Policy, message)
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoreError {}

/// Checks an id given by the caller: non-empty.
pub fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(CoreError::input(format!("{what} id must not be empty")));
    }
    Ok(())
}
