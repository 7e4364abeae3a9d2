//! The node interface the simulator drives, and its implementation for the
//! runtime's host core ([`HostNode`]).
//!
//! The simulator knows nothing about replication: it delivers messages, fires
//! timers and passes client requests to anything implementing [`Node`]. The
//! harness tests itself with a toy node (`crate::toy`) through the same trait.

use crate::disk::SharedDisk;
use ftc_runtime::app::AppFactory;
use ftc_runtime::host::{ClientEvent, ClientRequest, Host, HostConfig, Input, Output, Trace};
use ftc_runtime::message::Message;
use ftc_runtime::storage::{DurableLog, HostStorage, Store};
use ftc_runtime::types::{HostId, Incarnation, Micros, TimerId};
use std::fmt::Debug;
use std::sync::Arc;

/// An event for a node, as the simulator delivers it.
pub enum NodeInput<N: Node + ?Sized> {
    /// The node was just created (first input of every life).
    Start,
    /// A message from host `from`, stamped with the sender's incarnation at send time.
    Message {
        from: usize,
        from_incarnation: u64,
        msg: N::Message,
    },
    /// A timer the node set is due.
    Timer(N::Timer),
    /// A request from a client living on this node's host.
    Client(N::Request),
}

/// Something a node asks the simulator to do or to record.
pub enum NodeOutput<N: Node + ?Sized> {
    /// Send a message to a host (possibly itself).
    Send { to: usize, msg: N::Message },
    /// Deliver `Timer(timer)` at virtual time `at` (timers are never cancelled).
    SetTimer { timer: N::Timer, at: Micros },
    /// An answer to a local client.
    Client(N::Event),
    /// An observation for the checks.
    Trace(N::Trace),
}

/// A sans-IO protocol node: one per simulated host and life.
pub trait Node {
    /// What nodes send each other.
    type Message: Clone + Debug;
    /// Names a timer the node set.
    type Timer: Copy + Debug;
    /// What a local client asks.
    type Request: Clone + Debug;
    /// What a local client is answered.
    type Event: Clone + Debug;
    /// Observations for the checks.
    type Trace: Clone + Debug;

    /// Handles one input at virtual time `now`, appending what must be done to `out`.
    fn handle(&mut self, now: Micros, input: NodeInput<Self>, out: &mut Vec<NodeOutput<Self>>);

    /// The incarnation stamped on messages sent now.
    fn incarnation(&self) -> u64;

    /// The node runs a replica that still counts as faulty after it was
    /// recruited (see [`crate::faults::FaultConfig::wait_for_recruits`]).
    fn has_unhealed_recruit(&self) -> bool {
        false
    }
}

/// The runtime's [`Host`] as a simulated node.
///
/// Created with `batching`, a host with an odd seed runs the way the kernel
/// does, batching ([`Host::set_batching`]): it is flushed after every timer and
/// after every `batch_every`-th input (1 to 4, from the seed), so the
/// replicas' coalesced `Prepare`s, `Commit`s and `PrepareOk`s meet every fault
/// the simulator injects, next to hosts that send at once.
pub struct HostNode {
    host: Host,
    /// With stable storage: the host's logs on its simulated disk.
    storage: Option<(SharedDisk, HostStorage<SharedDisk>)>,
    /// The planted bug `sync_after_send`.
    sync_late: bool,
    scratch: Vec<Output>,
    /// 0: not batching.
    batch_every: u32,
    unflushed: u32,
}

impl HostNode {
    /// A host core with this configuration and these server classes (batching
    /// as described above if `batching`).
    pub fn new(config: HostConfig, apps: Arc<dyn AppFactory>, batching: bool) -> HostNode {
        let batch_every = if batching && config.seed % 2 == 1 {
            1 + ((config.seed >> 1) % 4) as u32
        } else {
            0
        };
        let sync_late = config.bugs.sync_after_send;
        let mut host = Host::new(config, apps);
        let mut scratch = Vec::new();
        host.set_batching(batch_every > 0, 0, &mut scratch);
        HostNode {
            host,
            storage: None,
            sync_late,
            scratch,
            batch_every,
            unflushed: 0,
        }
    }

    /// Like [`HostNode::new`], with stable storage on `disk`: the view
    /// service resumes from what an earlier life of the host left there
    /// (after [`SharedDisk::crash`], what survived). An unreadable disk is
    /// refused.
    pub fn with_storage(
        config: HostConfig,
        apps: Arc<dyn AppFactory>,
        batching: bool,
        disk: SharedDisk,
    ) -> Result<HostNode, String> {
        let mut node = HostNode::new(config, apps, batching);
        let open = |store: Store| DurableLog::open(disk.store(store)).map_err(|e| e.to_string());
        let (log, recovered) = open(Store::ViewService)?;
        node.host.restore_view_service(recovered)?;
        let mut storage = HostStorage::new();
        storage.insert(Store::ViewService, log);
        for store in disk.stores().map_err(|e| e.to_string())? {
            if let Store::Group(group) = store {
                let (log, recovered) = open(store)?;
                node.host.restore_durable(group, &recovered)?;
                storage.insert(store, log);
            }
        }
        node.storage = Some((disk, storage));
        Ok(node)
    }

    /// The host core.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

impl Node for HostNode {
    type Message = Message;
    type Timer = TimerId;
    type Request = ClientRequest;
    type Event = ClientEvent;
    type Trace = Trace;

    fn handle(&mut self, now: Micros, input: NodeInput<Self>, out: &mut Vec<NodeOutput<Self>>) {
        if self.sync_late {
            if let Some((_, storage)) = &mut self.storage {
                storage.sync().expect("simulated disk sync");
            }
        }
        let timer = matches!(input, NodeInput::Timer(_));
        let input = match input {
            NodeInput::Start => Input::Start,
            NodeInput::Message {
                from,
                from_incarnation,
                msg,
            } => Input::Message {
                from: HostId(host_index_u32(from)),
                from_incarnation: Incarnation(from_incarnation),
                msg,
            },
            NodeInput::Timer(timer) => Input::Timer(timer),
            NodeInput::Client(request) => Input::Client(request),
        };
        self.host.handle(now, input, &mut self.scratch);
        if self.batch_every > 0 {
            self.unflushed += 1;
            if timer || self.unflushed >= self.batch_every {
                self.host.flush(now, &mut self.scratch);
                self.unflushed = 0;
            }
        }
        // Everything leaves when this returns: what was persisted is synced
        // first if anything leaves at all (one sync per input, like a
        // kernel's per round); otherwise it stays unsynced, and a crash may
        // lose or tear it.
        let mut leaves = false;
        for output in self.scratch.drain(..) {
            out.push(match output {
                Output::Send { to, msg } => {
                    leaves = true;
                    NodeOutput::Send {
                        to: to.0 as usize,
                        msg,
                    }
                }
                Output::SetTimer { timer, at } => NodeOutput::SetTimer { timer, at },
                Output::Client(event) => {
                    leaves = true;
                    NodeOutput::Client(event)
                }
                Output::Trace(trace) => NodeOutput::Trace(trace),
                Output::Persist { store, op } => {
                    let (disk, storage) = self
                        .storage
                        .as_mut()
                        .expect("the core persists only with stable storage");
                    if !storage.contains(store) {
                        // A durable server's first replica on this host.
                        let (log, _) = DurableLog::open(disk.store(store)).expect("a new store");
                        storage.insert(store, log);
                    }
                    // A simulated disk does not fail.
                    storage.apply(store, op).expect("simulated disk write");
                    continue;
                }
            });
        }
        if let Some((_, storage)) = &mut self.storage {
            if leaves && storage.needs_sync() && !self.sync_late {
                storage.sync().expect("simulated disk sync");
            }
        }
    }

    fn incarnation(&self) -> u64 {
        self.host.incarnation().0
    }

    fn has_unhealed_recruit(&self) -> bool {
        self.host.unhealed_recruits() > 0
    }
}

/// Host indices are small (the simulator refuses clusters above 64 hosts).
pub(crate) fn host_index_u32(index: usize) -> u32 {
    u32::try_from(index).expect("host index fits in u32")
}
