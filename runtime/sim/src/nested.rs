//! The nested-command workload: a 3-replica `forwarder` whose commands call a
//! replicated `counter` (after an application timer), optionally losing a
//! forwarder replica mid-way. Exactly-once nested calls leave the counter at
//! the number of calls made.

use crate::checks::{Check, Violation};
use crate::cluster::{crash_spec, Cluster, ClusterConfig};
use crate::faults::FaultConfig;
use ftc_runtime::group::GroupMessage;
use ftc_runtime::host::ClientEvent;
use ftc_runtime::identity::ProofKeys;
use ftc_runtime::lie::Behaviour;
use ftc_runtime::message::Message;
use ftc_runtime::types::{GroupId, Micros, Model, ServerSpec};
use std::collections::BTreeMap;

/// What the nested run saw.
#[derive(Clone, Debug)]
pub struct NestedReport {
    pub seed: u64,
    /// The forwarder's answer to each call, in order.
    pub replies: Vec<String>,
    /// The counter's value read directly at the end.
    pub counter: Option<String>,
    /// The host crashed mid-way, if any.
    pub crashed: Option<usize>,
    pub violations: Vec<Violation>,
    pub digest: u64,
    /// Hosts the nemesis crashed.
    pub crashes: u64,
}

/// Makes `calls` sequential calls through a 3-replica forwarder to a counter;
/// with `crash_caller`, the forwarder's sequencer host crashes while the middle call
/// is in flight; with `faults`, the nemesis runs meanwhile (never on the client's host).
pub fn run_nested(
    config: &ClusterConfig,
    calls: u64,
    crash_caller: bool,
    faults: Option<FaultConfig>,
) -> NestedReport {
    let forwarder = crash_spec("forwarder", 2);
    run_nested_with(
        config,
        calls,
        crash_caller,
        faults,
        (crash_spec("counter", 1), forwarder),
        Liars::None,
    )
}

/// [`run_nested`] with a `model byzantine tolerate (1)` counter, `liars` of
/// whose members answer every nested call with a wrong count: the forwarder's
/// replicas must take only what `t+1` counter members agree on.
pub fn run_nested_byzantine(config: &ClusterConfig, calls: u64, liars: usize) -> NestedReport {
    let counter = ServerSpec::new("counter", Model::Byzantine, 1);
    let specs = (counter, crash_spec("forwarder", 2));
    run_nested_with(config, calls, false, None, specs, Liars::Counter(liars))
}

/// [`run_nested`] through a `model byzantine tolerate (1)` forwarder (four
/// replicas) one of whose members sends every nested command with other
/// arguments (`dec` for `inc`): the counter's host must execute a nested
/// command only once `t+1` forwarder members sent the same one.
pub fn run_nested_lying_caller(config: &ClusterConfig, calls: u64) -> NestedReport {
    let forwarder = ServerSpec::new("forwarder", Model::Byzantine, 1);
    let specs = (crash_spec("counter", 1), forwarder);
    run_nested_with(config, calls, false, None, specs, Liars::Caller)
}

/// [`run_nested_lying_caller`] where the lying member, the forwarder's first
/// primary, also never receives the counter's answers: it cannot order them,
/// so the other members must replace it (they hold the answers it leaves out).
pub fn run_nested_deaf_lying_primary(config: &ClusterConfig, calls: u64) -> NestedReport {
    let forwarder = ServerSpec::new("forwarder", Model::Byzantine, 1);
    let specs = (crash_spec("counter", 1), forwarder);
    run_nested_with(config, calls, false, None, specs, Liars::DeafCaller)
}

/// Who lies in a nested run.
enum Liars {
    None,
    /// The first members of the counter answer with a count nobody reached.
    Counter(usize),
    /// The first member of the forwarder sends wrong nested commands.
    Caller,
    /// Like `Caller`, and every answer of the counter to it is lost.
    DeafCaller,
}

fn run_nested_with(
    config: &ClusterConfig,
    calls: u64,
    crash_caller: bool,
    faults: Option<FaultConfig>,
    (counter_spec, forwarder_spec): (ServerSpec, ServerSpec),
    liars: Liars,
) -> NestedReport {
    let mut cluster = Cluster::new(config);
    let mut replies = Vec::new();
    let mut counter_value = None;
    let mut crashed = None;
    let deadline_per_call: Micros = 8_000_000;
    let replicas = match forwarder_spec.model {
        Model::Byzantine => 3 * forwarder_spec.tolerate + 1,
        _ => forwarder_spec.tolerate + 1,
    };
    let counter = cluster.start_group(0, counter_spec, 10_000_000);
    if let (Some(counter), Liars::Counter(n)) = (counter, &liars) {
        plant_liars(&mut cluster, counter, *n);
    }
    let forwarder = counter.and_then(|_| {
        let until = cluster.now() + 10_000_000;
        cluster.start_group(0, forwarder_spec, until)
    });
    if let (Some(forwarder), Liars::Caller | Liars::DeafCaller) = (forwarder, &liars) {
        let who: Vec<usize> = cluster.members(forwarder).into_iter().take(1).collect();
        if let (Liars::DeafCaller, Some(counter), Some(&deaf)) = (&liars, counter, who.first()) {
            let answers_to_deaf = move |_: usize, to: usize, msg: &Message| {
                to == deaf
                    && matches!(
                        msg,
                        Message::Group(GroupMessage::Reply { group, .. }) if *group == counter
                    )
            };
            cluster
                .sim_mut()
                .set_drop_filter(Some(Box::new(answers_to_deaf)));
        }
        cluster
            .sim_mut()
            .set_tamper(Some(lie_tamper(who, Behaviour::WrongNested)));
    }
    if let (Some(counter), Some(forwarder)) = (counter, forwarder) {
        let members = cluster.members(forwarder);
        if members.len() as u64 != u64::from(replicas) {
            cluster.violate(
                Check::Setup,
                format!("the forwarder has members {members:?}, not {replicas}"),
            );
        }
        // The client lives on a host without a forwarder replica, so a crash cannot take it.
        let client_host = (0..config.hosts)
            .find(|h| !members.contains(h))
            .unwrap_or(0);
        let chaos = faults.is_some();
        if let Some(mut faults) = faults {
            faults.protected.push(client_host);
            cluster.sim_mut().start_faults(faults);
        }
        for i in 1..=calls {
            if chaos {
                // Spread the calls over the nemesis's decisions.
                let until = cluster.now() + 150_000;
                cluster.run_quietly_until(until);
            }
            let Some(token) = cluster.call(
                client_host,
                0,
                forwarder,
                counter.0.to_string().into_bytes(),
            ) else {
                cluster.violate(
                    Check::Scenario,
                    format!("client host {client_host} is down"),
                );
                break;
            };
            if crash_caller && i == calls / 2 + 1 {
                let now = cluster.now();
                cluster.run_quietly_until(now + crate::apps::FORWARD_DELAY_US / 2);
                if let Some(seq) = cluster.sequencer(forwarder).filter(|h| *h != client_host) {
                    cluster.sim_mut().crash(seq);
                    crashed = Some(seq);
                }
            }
            let until = cluster.now() + deadline_per_call;
            match cluster.await_answer(client_host, token, until) {
                Some(ClientEvent::Reply { payload, .. }) => {
                    replies.push(String::from_utf8_lossy(&payload).into_owned());
                }
                other => {
                    cluster.violate(
                        Check::Liveness,
                        format!("call {i} through the forwarder: {other:?}"),
                    );
                    break;
                }
            }
        }
        if let Some(token) = cluster.call(client_host, 1, counter, b"get".to_vec()) {
            let until = cluster.now() + deadline_per_call;
            if let Some(ClientEvent::Reply { payload, .. }) =
                cluster.await_answer(client_host, token, until)
            {
                counter_value = Some(String::from_utf8_lossy(&payload).into_owned());
            }
        }
        cluster.sim_mut().stop_faults();
        // Let the replicas catch up so the trace checks see everything.
        let until = cluster.now() + 500_000;
        cluster.run_quietly_until(until);
    }
    let digest = cluster.sim().digest();
    let crashes = cluster.sim().stats().crashes;
    let mut violations = cluster.finish();
    let expected: Vec<String> = (1..=calls).map(|i| i.to_string()).collect();
    if violations.is_empty() && replies != expected {
        violations.push(Violation {
            check: Check::ExecutedOnce,
            detail: format!("forwarded calls answered {replies:?}, expected {expected:?}"),
        });
    }
    if violations.is_empty() && counter_value.as_deref() != Some(&calls.to_string()) {
        violations.push(Violation {
            check: Check::ExecutedOnce,
            detail: format!("the counter reads {counter_value:?} after {calls} calls"),
        });
    }
    NestedReport {
        seed: config.seed,
        replies,
        counter: counter_value,
        crashed,
        violations,
        digest,
        crashes,
    }
}

/// Makes the first `liars` members of `counter`'s view answer every call with
/// a count nobody reached.
fn plant_liars(cluster: &mut Cluster, counter: GroupId, liars: usize) {
    let who: Vec<usize> = cluster.members(counter).into_iter().take(liars).collect();
    if who.is_empty() {
        return;
    }
    cluster
        .sim_mut()
        .set_tamper(Some(Box::new(move |from, _to, msg| {
            if let Message::Group(GroupMessage::Reply { group, payload, .. }) = msg {
                if *group == counter && who.contains(&from) {
                    *payload = b"999".to_vec();
                }
            }
        })));
}

/// A tamper that makes the hosts `who` lie with `behaviour`.
fn lie_tamper(who: Vec<usize>, behaviour: Behaviour) -> crate::sim::Tamper<crate::node::HostNode> {
    let keys = liars_keys(&who);
    Box::new(move |from, to, msg| {
        if let Some(keys) = keys.get(&from) {
            behave(behaviour, keys, to, msg);
        }
    })
}

/// Each liar's own key pair (`ProofKeys::simulated`): what it alters and signs
/// again carries its signature.
pub(crate) fn liars_keys(who: &[usize]) -> BTreeMap<usize, ProofKeys> {
    who.iter()
        .map(|h| {
            let host = ftc_runtime::types::HostId(crate::node::host_index_u32(*h));
            let keys = ProofKeys::simulated(host, &[host], crate::cluster::SIMULATED_KEY_SEED);
            (*h, keys)
        })
        .collect()
}

/// Applies `behaviour` to a message for host `to`; a message the behaviour
/// does not send becomes a notice about no group, which every receiver drops.
pub(crate) fn behave(behaviour: Behaviour, keys: &ProofKeys, to: usize, msg: &mut Message) {
    let to = ftc_runtime::types::HostId(crate::node::host_index_u32(to));
    if !behaviour.apply(to, msg, keys) {
        *msg = Message::Group(GroupMessage::Ready {
            group: GroupId(u64::MAX),
            view_id: 0,
        });
    }
}
