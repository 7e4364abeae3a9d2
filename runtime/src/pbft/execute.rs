//! Execution: committed batches in sequence order, entry by entry, with the
//! duplicate table, replies from every replica, nested calls and timers.

use super::messages::CheckpointState;
use super::{Pbft, Running, BATCH_MAX, CHECKPOINT_INTERVAL, WINDOW};
use crate::app::{AppInput, AppOutput, NestedCallId};
use crate::group::{Callee, ClientTable, GroupMessage, GroupOutput, LogEntry, PendingCall};
use crate::host::Trace;
use crate::types::Micros;

impl Pbft {
    /// Executes every committed batch that follows the executed ones.
    pub(super) fn execute_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        let bound = (WINDOW as usize + 1) * (BATCH_MAX + 1);
        for _ in 0..bound {
            if !self.initialized || self.running.is_some() || self.want_state.is_some() {
                return;
            }
            let seq = self.last_exec + 1;
            let Some(slot) = self.slots.get(&seq) else {
                return;
            };
            let Some(digest) = slot.committed else {
                return;
            };
            let Some(batch) = slot.batch(&digest) else {
                return;
            };
            if let Some(entry) = batch.get(self.exec_index).cloned() {
                self.start(now, entry, out);
                continue;
            }
            self.last_exec = seq;
            self.exec_index = 0;
            self.exec_at = now;
            self.attempts = 0;
            self.maybe_heal();
            if seq % CHECKPOINT_INTERVAL == 0 {
                self.take_checkpoint(now, out);
            }
        }
    }

    fn start(&mut self, now: Micros, entry: LogEntry, out: &mut Vec<GroupOutput>) {
        let mut app_out = Vec::new();
        let (applied, done) = match &entry {
            LogEntry::Command {
                request, payload, ..
            } => {
                if self.is_duplicate(*request) {
                    (false, true)
                } else {
                    let input = AppInput::Command {
                        request: *request,
                        payload,
                    };
                    (true, self.app.start_apply(input, &mut app_out))
                }
            }
            LogEntry::NestedReply { call, outcome } => {
                if self.calls.contains_key(call) {
                    let input = AppInput::NestedReply {
                        call: *call,
                        outcome,
                    };
                    (true, self.app.start_apply(input, &mut app_out))
                } else {
                    (false, true)
                }
            }
            LogEntry::TimerFired { timer } => {
                let input = AppInput::TimerFired { timer: *timer };
                (true, self.app.start_apply(input, &mut app_out))
            }
            LogEntry::Departed { .. } => (false, true),
        };
        let running = Running {
            entry,
            applied,
            since: now,
        };
        if done {
            self.finish(now, running, app_out, out);
        } else {
            self.running = Some(running);
        }
    }

    pub(super) fn app_ready(&mut self, now: Micros, out: &mut Vec<GroupOutput>) {
        if self.running.is_none() {
            return;
        }
        let mut app_out = Vec::new();
        if !self.app.poll(&mut app_out) {
            return;
        }
        if let Some(running) = self.running.take() {
            self.finish(now, running, app_out, out);
            self.execute_ready(now, out);
        }
    }

    fn finish(
        &mut self,
        now: Micros,
        running: Running,
        app_out: Vec<AppOutput>,
        out: &mut Vec<GroupOutput>,
    ) {
        let Running { entry, applied, .. } = running;
        self.exec_index += 1;
        self.position += 1;
        let mut executed_request = None;
        match &entry {
            LogEntry::Command {
                request, low_water, ..
            } => {
                self.requests.remove(request);
                self.clients.executed(*request, *low_water, applied);
                if applied {
                    executed_request = Some(*request);
                }
            }
            LogEntry::NestedReply { call, .. } => {
                self.calls.remove(call);
                self.outcomes.remove(call);
                self.proposed_calls.remove(call);
            }
            LogEntry::TimerFired { timer } => {
                self.timers.remove(timer);
                self.proposed_timers.remove(timer);
            }
            LogEntry::Departed { clients } => {
                for client in clients {
                    self.known_departed.remove(client);
                    self.proposed_departures.remove(client);
                }
                self.clients.depart(clients);
            }
        }
        out.push(GroupOutput::Trace(Trace::Executed {
            group: self.config.group,
            replica: self.config.me,
            position: self.position,
            request: executed_request,
            entry_digest: entry.digest(),
            state_digest: self.app.digest(),
        }));
        for effect in app_out {
            match effect {
                AppOutput::Reply { request, payload } => {
                    self.clients.set_reply(request, &payload);
                    let msg = GroupMessage::Reply {
                        group: self.config.group,
                        request,
                        payload,
                    };
                    out.push(GroupOutput::Reply {
                        client: request.client,
                        msg,
                    });
                }
                AppOutput::Call {
                    call,
                    group,
                    payload,
                } => self.new_call(now, call, Callee::Group(group), payload, out),
                AppOutput::StartServer { call, spec } => {
                    self.new_call(now, call, Callee::Start(spec), Vec::new(), out)
                }
                AppOutput::ArmTimer { timer, after } => {
                    let at = now.saturating_add(after);
                    self.timers.insert(timer, at);
                    out.push(GroupOutput::SetTimer { at });
                }
                AppOutput::CancelTimer { timer } => {
                    self.timers.remove(&timer);
                }
            }
        }
    }

    /// The state after the last executed batch.
    pub(super) fn package(&self, seq: u64) -> CheckpointState {
        let (clients, departed) = self.clients.to_parts();
        CheckpointState {
            seq,
            position: self.position,
            snapshot: self.app.snapshot(),
            clients,
            departed,
            calls: self
                .calls
                .iter()
                .map(|(c, p)| (c.0, p.target.clone(), p.payload.clone()))
                .collect(),
            timers: self.timers.keys().map(|t| t.0).collect(),
        }
    }

    /// Replaces the state by a transferred one (its digest was checked).
    pub(super) fn restore(&mut self, now: Micros, state: &CheckpointState) -> bool {
        if self.app.restore(&state.snapshot).is_err() {
            self.dropped += 1;
            return false;
        }
        self.running = None;
        self.last_exec = state.seq;
        self.exec_index = 0;
        self.position = state.position;
        self.clients = ClientTable::from_parts(state.clients.clone(), state.departed.clone());
        self.calls = state
            .calls
            .iter()
            .map(|(c, target, payload)| {
                let deadline = now.saturating_add(self.config.call_deadline_us);
                let pending = PendingCall::new(target.clone(), payload.clone(), deadline);
                (NestedCallId(*c), pending)
            })
            .collect();
        // The time left of each timer is not part of the vouched state: due now.
        self.timers = state
            .timers
            .iter()
            .map(|t| (crate::app::AppTimerId(*t), now))
            .collect();
        let calls = &self.calls;
        self.outcomes.retain(|c, _| calls.contains_key(c));
        let clients = &self.clients;
        self.requests.retain(|r| !clients.is_duplicate(r));
        self.known_departed.retain(|c| !clients.has_departed(*c));
        self.initialized = true;
        self.exec_at = now;
        self.maybe_heal();
        true
    }
}
