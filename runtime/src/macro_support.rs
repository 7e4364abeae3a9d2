//! What the code `#[server]` generates asks of the user's types, written as
//! traits whose unmet bound reads as the problem and its fix: a parameter or
//! reply must be serializable (it crosses the network), the state must be
//! serializable (it is snapshotted for state transfer) and `Default` (a new
//! replica's state). Not an API: only generated code names these.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value a command or a reply carries.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the network in a command or a reply: it is not serializable",
    label = "this parameter or reply type does not implement `Serialize` and `Deserialize`",
    note = "derive them on the type: `#[derive(serde::Serialize, serde::Deserialize)]`, or pick a serializable type"
)]
pub trait Wire {}

impl<T: Serialize + DeserializeOwned> Wire for T {}

/// A server's state, copied to new replicas by state transfer.
#[diagnostic::on_unimplemented(
    message = "the server state `{Self}` cannot be snapshotted: it is not serializable",
    label = "the state of a replicated server must implement `Serialize` and `Deserialize`",
    note = "derive them on the state type: `#[derive(Default, serde::Serialize, serde::Deserialize)]`"
)]
pub trait Snapshot {}

impl<T: Serialize + DeserializeOwned + 'static> Snapshot for T {}

/// A server's state, as every new replica starts it.
#[diagnostic::on_unimplemented(
    message = "the server state `{Self}` has no initial value: every replica starts from `Default::default()`",
    label = "the state of a replicated server must implement `Default`",
    note = "derive or implement `Default` for the state type"
)]
pub trait Initial {}

impl<T: Default> Initial for T {}

/// Asserts `T: Wire` at the type's tokens.
pub fn wire<T: Wire>() {}

/// Asserts `T: Snapshot` at the type's tokens.
pub fn snapshot<T: Snapshot>() {}

/// Asserts `T: Initial` at the type's tokens.
pub fn initial<T: Initial>() {}
