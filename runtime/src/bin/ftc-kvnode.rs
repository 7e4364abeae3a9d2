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

/// `ftc-kvnode`'s command line.
#[derive(clap::Parser)]
#[command(about = "A host kernel with the built-in replicated key-value store")]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["kernel", "client"])))]
struct CommandLine {
    /// Serve as a kernel until SIGTERM.
    #[arg(long)]
    kernel: bool,
    /// Start a key-value server, make put/get pairs and print what was seen.
    #[arg(long)]
    client: bool,
    /// Client mode: the server tolerates T crashes (0: `correct`; default 1).
    #[arg(long, value_name = "T", conflicts_with = "kernel")]
    tolerate: Option<u32>,
    /// Client mode: how many put/get pairs (default 100).
    #[arg(long, value_name = "N", conflicts_with = "kernel")]
    ops: Option<u64>,
    #[command(flatten)]
    kernel_args: KernelArgs,
}

fn client(cli: &CommandLine) -> Result<(), String> {
    ftc_runtime::logging::init(cli.kernel_args.log_file.as_deref())?;
    let tolerate = cli.tolerate.unwrap_or(1);
    let ops = cli.ops.unwrap_or(100);
    let kernel_args = &cli.kernel_args;
    let (cluster, identity) = kernel_args.load()?;
    let config = KernelConfig::new(kernel_args.host, cluster, identity);
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
    use clap::Parser;
    // Unknown or malformed flags: clap's message and exit code 2.
    let cli = CommandLine::parse();
    let result = if cli.kernel {
        serve_until_terminated(&cli.kernel_args, Arc::new(KvFactory))
    } else {
        client(&cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftc-kvnode: {e}");
            ExitCode::FAILURE
        }
    }
}
