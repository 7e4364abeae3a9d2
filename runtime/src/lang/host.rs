//! CMSL `host` values: a host of the cluster, named `h<number>` in the cluster file.

use super::show::{Printer, Show};
use crate::types::HostId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A host of the cluster. Compared with `==`; prints as its name.
///
/// ```
/// use ftc_runtime::lang::{show, Host};
/// use ftc_runtime::types::HostId;
/// let h = Host(HostId(2));
/// assert_eq!(show(&h), "h2");
/// assert_eq!(h, Host::parse("h2").unwrap());
/// assert!(Host::parse("mars").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Host(pub HostId);

impl Host {
    /// The host with this name (`h` followed by its number), if the name has that form.
    pub fn parse(name: &str) -> Option<Host> {
        crate::cluster::parse_host_name(name).map(Host)
    }

    /// The runtime's id of the host.
    pub fn id(self) -> HostId {
        self.0
    }
}

impl Default for Host {
    /// `h0` (the default of a `host` variable).
    fn default() -> Host {
        Host(HostId(0))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0 .0)
    }
}

impl Show for Host {
    fn show(&self, p: &mut Printer) {
        p.text(&self.to_string());
    }
}
