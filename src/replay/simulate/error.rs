//! Why a replay stopped: the replay subsystem's error.

use crate::diag::Diagnostic;
use crate::engine::EvalError;
use crate::replay::store::StoreError;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A timeline line or event that cannot be applied.
    #[error("{0}")]
    Input(Box<Diagnostic>),
    /// Shown once: not the error's `source`, which would repeat it.
    #[error("the conversation store failed: {0}")]
    Store(StoreError),
    /// The rules could not decide (a script failed or ran too long).
    #[error("{0}")]
    Rules(#[from] EvalError),
    /// Writing the reports failed (a closed pipe, a full disk).
    #[error("{0}")]
    Output(std::io::Error),
}

impl From<StoreError> for SimError {
    fn from(e: StoreError) -> Self {
        SimError::Store(e)
    }
}

impl From<rusqlite::Error> for SimError {
    fn from(e: rusqlite::Error) -> Self {
        SimError::Store(StoreError::Sql(e))
    }
}
