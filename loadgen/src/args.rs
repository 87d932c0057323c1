//! Command-line arguments.

use std::time::Duration;

pub const USAGE: &str = "usage: loadgen --url WS_URL [--clients 50] [--docs 10] [--seconds 10] \
[--warmup 2] [--collection NAME] [--pid SERVER_PID] [--metrics URL] [--json]\n       loadgen --url WS_URL --idle N [--docs 100] [--pid SERVER_PID] [--json]\n       loadgen --url WS_URL --seed N [--collection lists]\n       loadgen --url WS_URL --scenario fanout|backlog|flood|query [--clients N] [--docs N] [--stalled PERCENT] \
[--flooders N] [--rate OPS_PER_S] [--pid SERVER_PID] [--seconds 10] [--json]";

/// What to run.
#[derive(Debug, Clone)]
pub struct Args {
    pub url: String,
    pub clients: usize,
    pub docs: usize,
    pub seconds: Duration,
    pub warmup: Duration,
    pub collection: String,
    pub json: bool,
    pub idle: Option<usize>,
    pub pid: Option<u32>,
    /// The server's Prometheus endpoint: its CPU time and queue figures
    /// are read from there rather than from `/proc`.
    pub metrics: Option<String>,
    /// Create this many list documents (for the SSR measurement) and exit.
    pub seed: Option<usize>,
    /// A scenario: `fanout`, `backlog`, `flood` or `query`.
    pub scenario: Option<String>,
    /// In `fanout`: the percentage of subscribers that never read.
    pub stalled_percent: usize,
    /// In `flood`: how many connections flood.
    pub flooders: usize,
    /// In `fanout` and `query`: ops a second the writer submits.
    pub rate: Option<u64>,
}

impl Args {
    /// The writer's interval: `--rate` ops a second, or `default`.
    pub fn interval(&self, default: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(1.0 / self.rate.unwrap_or(default).max(1) as f64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error("--url is required")]
    NoUrl,
    #[error("{0} needs a value")]
    Missing(String),
    #[error("{0}: {1:?} is not a number")]
    NotANumber(String, String),
    #[error("unknown argument {0}")]
    Unknown(String),
}

impl Args {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, ArgsError> {
        let mut parsed = Args {
            url: String::new(),
            clients: 50,
            docs: 10,
            seconds: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            collection: format!("bench_{}", std::process::id()),
            json: false,
            idle: None,
            pid: None,
            metrics: None,
            seed: None,
            scenario: None,
            stalled_percent: 0,
            flooders: 0,
            rate: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| ArgsError::Missing(arg.clone()));
            let number = |v: String| {
                v.parse::<u64>()
                    .map_err(|_| ArgsError::NotANumber(arg.clone(), v))
            };
            match arg.as_str() {
                "--url" => parsed.url = value()?,
                "--clients" => parsed.clients = number(value()?)? as usize,
                "--docs" => parsed.docs = number(value()?)? as usize,
                "--seconds" => parsed.seconds = Duration::from_secs(number(value()?)?),
                "--warmup" => parsed.warmup = Duration::from_secs(number(value()?)?),
                "--collection" => parsed.collection = value()?,
                "--idle" => parsed.idle = Some(number(value()?)? as usize),
                "--pid" => parsed.pid = Some(number(value()?)? as u32),
                "--metrics" => parsed.metrics = Some(value()?),
                "--seed" => parsed.seed = Some(number(value()?)? as usize),
                "--scenario" => parsed.scenario = Some(value()?),
                "--stalled" => parsed.stalled_percent = number(value()?)?.min(100) as usize,
                "--flooders" => parsed.flooders = number(value()?)? as usize,
                "--rate" => parsed.rate = Some(number(value()?)?),
                "--json" => parsed.json = true,
                _ => return Err(ArgsError::Unknown(arg)),
            }
        }
        if parsed.url.is_empty() {
            return Err(ArgsError::NoUrl);
        }
        parsed.docs = parsed.docs.max(1);
        Ok(parsed)
    }
}
