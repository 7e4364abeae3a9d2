//! Three kernels in one process on loopback: the kernel driver, transport and
//! protocols together, without process management.

use ftc_runtime::cluster::ClusterConfig;
use ftc_runtime::kernel::{Kernel, KernelConfig, FIRST_INCARNATION};
use ftc_runtime::kv_app::{KvCommand, KvFactory, KvReply, KV_CLASS};
use ftc_runtime::types::{HostId, Model, ServerSpec};
use std::net::TcpListener;
use std::sync::Arc;

fn kernels(n: u32) -> Vec<Kernel> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind loopback"))
        .collect();
    let cluster = ClusterConfig {
        key: b"in-process-test-key-0123456789".to_vec(),
        hosts: listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (HostId(i as u32), l.local_addr().expect("addr")))
            .collect(),
    };
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let mut config = KernelConfig::new(HostId(i as u32), cluster.clone());
            config.incarnation = Some(FIRST_INCARNATION);
            Kernel::start_on(config, Arc::new(KvFactory), l).expect("start kernel")
        })
        .collect()
}

#[test]

fn three_kernels_serve_a_replicated_key_value_server() {
    let ks = kernels(3);
    let h = ks[0].handle();
    for (model, tolerate) in [(Model::Correct, 0), (Model::Crash, 1), (Model::Crash, 2)] {
        let group = h
            .start_server(ServerSpec {
                class: KV_CLASS.into(),
                model,
                tolerate,
                replicas: 0,
                hosts: vec![],
                disjoint_key: None,
                priority: 0,
            })
            .expect("start server");
        // Clients on two different hosts see each other's writes.
        let a = h.new_client_id();
        let other = ks[1].handle();
        let b = other.new_client_id();
        for i in 0..50u64 {
            let put = KvCommand::Put {
                key: "x".into(),
                value: i.to_string(),
            };
            h.call(a, group, put.encode()).expect("put");
            let got = other
                .call(b, group, KvCommand::Get { key: "x".into() }.encode())
                .expect("get");
            assert_eq!(
                KvReply::decode(&got),
                Ok(KvReply::Value(Some(i.to_string())))
            );
        }
        // The asynchronous form: many calls in flight at once.
        let tickets: Vec<_> = (0..100u64)
            .map(|i| {
                h.call_async(
                    a,
                    group,
                    KvCommand::Append {
                        key: "log".into(),
                        value: format!("{i};"),
                    }
                    .encode(),
                )
            })
            .collect();
        for t in tickets {
            assert_eq!(t.wait().map(|r| KvReply::decode(&r)), Ok(Ok(KvReply::Done)));
        }
    }
}
