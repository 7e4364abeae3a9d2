//! A toy node for testing the harness itself: it pings every host every
//! millisecond with numbered messages and echoes client requests, so tests can
//! measure loss, duplication, reordering and partitions without the runtime.

use crate::node::{Node, NodeInput, NodeOutput};
use ftc_runtime::types::Micros;

/// Pings every peer (including itself) every `period_us`.
pub struct ToyNode {
    pub host: usize,
    pub incarnation: u64,
    pub hosts: usize,
    pub period_us: Micros,
    next_seq: u64,
}

/// A ping: the sender's sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping(pub u64);

/// What a toy node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToyTrace {
    /// A ping arrived from `from` (stamped `from_incarnation`) with this number.
    Received {
        from: usize,
        from_incarnation: u64,
        seq: u64,
    },
}

impl ToyNode {
    /// A toy node of a cluster of `hosts`, pinging every `period_us`.
    pub fn new(host: usize, incarnation: u64, hosts: usize, period_us: Micros) -> ToyNode {
        ToyNode {
            host,
            incarnation,
            hosts,
            period_us,
            next_seq: 0,
        }
    }
}

impl Node for ToyNode {
    type Message = Ping;
    type Timer = ();
    type Request = u64;
    type Event = u64;
    type Trace = ToyTrace;

    fn handle(&mut self, now: Micros, input: NodeInput<Self>, out: &mut Vec<NodeOutput<Self>>) {
        match input {
            NodeInput::Start => out.push(NodeOutput::SetTimer {
                timer: (),
                at: now + self.period_us,
            }),
            NodeInput::Timer(()) => {
                self.next_seq += 1;
                for to in 0..self.hosts {
                    out.push(NodeOutput::Send {
                        to,
                        msg: Ping(self.next_seq),
                    });
                }
                out.push(NodeOutput::SetTimer {
                    timer: (),
                    at: now + self.period_us,
                });
            }
            NodeInput::Message {
                from,
                from_incarnation,
                msg,
            } => out.push(NodeOutput::Trace(ToyTrace::Received {
                from,
                from_incarnation,
                seq: msg.0,
            })),
            NodeInput::Client(request) => out.push(NodeOutput::Client(request)),
        }
    }

    fn incarnation(&self) -> u64 {
        self.incarnation
    }
}
