//! Typed requests on a machine's restore points: list, show, diff, verify,
//! create, rollback, undo, delete.
//!
//! A rollback or undo that fails with no [`ClientError::agent_reply`] may
//! have stopped in the middle: the agent finishes or reverts it when it
//! starts again, so ask [`Session::restore_list`] once it is back.

use std::time::Duration;

use tether_proto::restore::{
    RestoreDiff, RestorePoint, RestorePointDetail, RollbackOutcome, VerifyOutcome,
};
use tether_proto::{Call, Request, Response, RestoreRequest};

use crate::error::ClientError;
use crate::session::Session;

/// Time beyond the timeout for restore requests: taking a point or rolling
/// back copies files, and trees may be large.
pub const RESTORE_ALLOWANCE: Duration = Duration::from_secs(600);

impl Session {
    /// Sends a restore request with [`RESTORE_ALLOWANCE`].
    async fn ask_restore<T>(
        &self,
        request: Request,
        what: &'static str,
        pick: impl FnOnce(Response) -> Option<T>,
    ) -> Result<T, ClientError> {
        self.ask(&request, RESTORE_ALLOWANCE, what, pick).await
    }

    /// The machine's restore points, oldest first.
    pub async fn restore_list(&self) -> Result<Vec<RestorePoint>, ClientError> {
        self.ask_restore(Request::Call(Call::Restore(RestoreRequest::List)), "restore list", |r| {
            match r {
                Response::RestorePoints(points) => Some(points),
                _ => None,
            }
        })
        .await
    }

    /// One point and the entries it holds (the first ones, for a large
    /// point: `more_entries` counts the rest).
    pub async fn restore_show(&self, id: &str) -> Result<RestorePointDetail, ClientError> {
        let request = Request::Call(Call::Restore(RestoreRequest::Show { id: id.to_owned() }));
        self.ask_restore(request, "restore show", |r| match r {
            Response::RestorePoint(detail) => Some(*detail),
            _ => None,
        })
        .await
    }

    /// What rolling back to point `id` would change (a dry run).
    pub async fn restore_diff(&self, id: &str) -> Result<RestoreDiff, ClientError> {
        let request = Request::Call(Call::Restore(RestoreRequest::Diff { id: id.to_owned() }));
        self.ask_restore(request, "restore diff", |r| match r {
            Response::RestoreDiff(diff) => Some(*diff),
            _ => None,
        })
        .await
    }

    /// Checks the store: every point's contents present and intact.
    pub async fn restore_verify(&self) -> Result<VerifyOutcome, ClientError> {
        self.ask_restore(
            Request::Call(Call::Restore(RestoreRequest::Verify)),
            "restore verify",
            |r| match r {
                Response::RestoreVerified(outcome) => Some(outcome),
                _ => None,
            },
        )
        .await
    }

    /// Takes a restore point now; `keep` exempts it from retention.
    pub async fn restore_create(
        &self,
        label: Option<String>,
        keep: bool,
    ) -> Result<RestorePoint, ClientError> {
        let request = Request::Call(Call::Restore(RestoreRequest::Create { label, keep }));
        self.ask_restore(request, "restore create", |r| match r {
            Response::RestoreCreated(point) => Some(point),
            _ => None,
        })
        .await
    }

    /// Rolls the machine back to point `id`.
    pub async fn restore_rollback(&self, id: &str) -> Result<RollbackOutcome, ClientError> {
        let request = Request::Call(Call::Restore(RestoreRequest::Rollback { id: id.to_owned() }));
        self.ask_restore(request, "restore rollback", |r| match r {
            Response::RolledBack(outcome) => Some(outcome),
            _ => None,
        })
        .await
    }

    /// Undoes the last rollback.
    pub async fn restore_undo(&self) -> Result<RollbackOutcome, ClientError> {
        self.ask_restore(Request::Call(Call::Restore(RestoreRequest::Undo)), "restore undo", |r| {
            match r {
                Response::RolledBack(outcome) => Some(outcome),
                _ => None,
            }
        })
        .await
    }

    /// Deletes point `id` (`force`: even one marked keep); returns the id
    /// the agent deleted.
    pub async fn restore_delete(&self, id: &str, force: bool) -> Result<String, ClientError> {
        let request =
            Request::Call(Call::Restore(RestoreRequest::Delete { id: id.to_owned(), force }));
        self.ask_restore(request, "restore delete", |r| match r {
            Response::RestoreDeleted { id } => Some(id),
            _ => None,
        })
        .await
    }
}
