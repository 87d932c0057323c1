//! A load generator for servers that speak ShareDB's protocol over
//! WebSocket (peloton, Node ShareDB): C clients over D documents, each
//! subscribed to its document and submitting small ops in a closed loop.
//!
//! ```text
//! loadgen --url ws://127.0.0.1:3000/channel --clients 50 --docs 10 --seconds 10
//! loadgen --url ws://127.0.0.1:3000/channel --idle 1000 --pid 1234
//! ```
//!
//! It reports committed ops/s, ack latency and fan-out latency (submit to
//! receipt at every other subscriber) percentiles, then checks that no
//! acknowledged op was lost or applied twice and that every subscriber
//! converged. With `--idle N` it opens N subscribed, idle clients and
//! reports the server's memory per client (`--pid`: the server's process).
//! With `--seed N` it creates N documents like the demo's lists (for
//! measuring server-side rendering of a page that shows them). With
//! `--scenario` it measures what hostile clients cost the others (see
//! `hostile`): subscribers that stop reading, and connections that flood;
//! `--scenario query` measures one live query with many subscribers.

mod args;
mod conn;
mod hostile;
mod idle;
mod load;
mod metrics;
mod queries;
mod stats;

use std::process::ExitCode;

/// The generator parses several small messages per op; a fast allocator
/// keeps it from being what limits the measurement.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("loadgen: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    // One thread: the generator must leave the other core to the server.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match (args.idle, args.seed, args.scenario.as_deref()) {
            (Some(n), _, _) => idle::run(&args, n).await.map(|r| r.to_string()),
            (None, Some(n), _) => load::seed(&args, n).await,
            (None, None, Some("fanout")) => hostile::fanout(&args).await.map(|r| r.to_string()),
            (None, None, Some("backlog")) => hostile::backlog(&args).await.map(|r| r.to_string()),
            (None, None, Some("flood")) => hostile::flood(&args).await.map(|r| r.to_string()),
            (None, None, Some("query")) => queries::run(&args).await.map(|r| r.to_string()),
            (None, None, Some(other)) => Err(conn::ConnError::Socket(format!(
                "unknown scenario {other:?}: fanout, backlog, flood or query"
            ))),
            (None, None, None) => load::run(&args).await.map(|r| r.to_string()),
        }
    });
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
