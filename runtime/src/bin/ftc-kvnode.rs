//! A host kernel running the built-in replicated key-value store, for tests,
//! benchmarks and trying a cluster out by hand.
//!
//! ```text
//! ftc-kvnode --kernel --host h1 --cluster cluster.toml [--trace FILE]
//! ftc-kvnode --client --host h0 --cluster cluster.toml [--tolerate T] [--ops N]
//! ```
//!
//! Kernel mode serves until SIGTERM. Client mode runs its own kernel as the given
//! host (which must be listed in the cluster file), starts a key-value server
//! (`model crash tolerate (T)`, or `correct` with `--tolerate 0`), performs N
//! put/get pairs and prints what it saw.

use ftc_runtime::kernel::{serve_until_terminated, Kernel, KernelArgs, KernelConfig};
use ftc_runtime::kv_app::{KvCommand, KvFactory, KvReply, KV_CLASS};
use ftc_runtime::types::{Model, ServerSpec};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn client(args: &[String], kernel_args: &KernelArgs) -> Result<(), String> {
    let tolerate: u32 = flag_value(args, "--tolerate")
        .map(|v| {
            v.parse()
                .map_err(|_| format!("--tolerate {v}: not a number"))
        })
        .transpose()?
        .unwrap_or(1);
    let ops: u64 = flag_value(args, "--ops")
        .map(|v| v.parse().map_err(|_| format!("--ops {v}: not a number")))
        .transpose()?
        .unwrap_or(100);
    let cluster = ftc_runtime::cluster::ClusterConfig::load(&kernel_args.cluster_file)
        .map_err(|e| e.to_string())?;
    let config = KernelConfig::new(kernel_args.host, cluster);
    let kernel =
        Kernel::start_claiming(config, Arc::new(KvFactory), &kernel_args.incarnation_path())
            .map_err(|e| e.to_string())?;
    let h = kernel.handle();
    let group = h.start_server(ServerSpec {
        class: KV_CLASS.into(),
        model: if tolerate == 0 {
            Model::Correct
        } else {
            Model::Crash
        },
        tolerate,
        replicas: 0,
        hosts: Vec::new(),
        disjoint_key: None,
        priority: 0,
        durable: None,
    })?;
    println!("started key-value server {group:?} (tolerate {tolerate})");
    let me = h.new_client_id();
    let started = Instant::now();
    for i in 0..ops {
        let key = format!("k{}", i % 8);
        let put = KvCommand::Put {
            key: key.clone(),
            value: i.to_string(),
        };
        h.call(me, group, put.encode()).map_err(|e| e.to_string())?;
        let got = h
            .call(me, group, KvCommand::Get { key }.encode())
            .map_err(|e| e.to_string())?;
        let reply = KvReply::decode(&got)?;
        if reply != KvReply::Value(Some(i.to_string())) {
            return Err(format!("read {reply:?} after writing {i}"));
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{} calls in {:.3} s ({:.0} calls/s)",
        ops * 2,
        elapsed.as_secs_f64(),
        (ops * 2) as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    kernel.shutdown();
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kernel_args = match KernelArgs::parse(&args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("ftc-kvnode: {e}");
            eprintln!("usage: ftc-kvnode (--kernel | --client) --host hN --cluster FILE [--trace FILE] [--tolerate T] [--ops N]");
            return ExitCode::from(2);
        }
    };
    let result = if args.iter().any(|a| a == "--kernel") {
        serve_until_terminated(&kernel_args, Arc::new(KvFactory))
    } else if args.iter().any(|a| a == "--client") {
        client(&args, &kernel_args)
    } else {
        Err("say --kernel or --client".into())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftc-kvnode: {e}");
            ExitCode::FAILURE
        }
    }
}
