//! The `gregor` binary: CLI -> Config, tracing, run until SIGINT/SIGTERM. No logic here.

use clap::{Parser, Subcommand};
use gregor::config::{Cli, Config};

/// The broker's flags, or a subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka-wire-protocol-compatible broker for local development and tests",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(flatten)]
    cli: Cli,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands: `gregor ctl` (the admin endpoint) and the Kafka-protocol tools.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Ctl(gregor::ctl::Command),
    #[command(flatten)]
    Kafka(gregor::cli::Command),
}
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Args { cli, command } = Args::parse();
    match &command {
        Some(Command::Ctl(gregor::ctl::Command::Ctl(ctl))) => {
            std::process::exit(gregor::ctl::run(ctl))
        }
        Some(Command::Kafka(cmd)) => std::process::exit(gregor::cli::run(cmd)),
        None => {}
    }
    let config = Config::from_cli(&cli)?;
    let data_dir = config.data_dir.clone();
    let mut running = gregor::node::start(config).await?;
    if let Some(path) = &cli.port_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", running.bootstrap()))?;
        std::fs::rename(&tmp, path)?;
    }
    let nodes = running.cluster.nodes();
    let advertised: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}:{}", n.host, n.port))
        .collect();
    println!(
        "gregor listening on {} ({} broker{}, advertised as {}), data in {}, ready in {:.1} ms{}",
        running.bootstrap(),
        nodes.len(),
        if nodes.len() == 1 { "" } else { "s" },
        advertised.join(","),
        data_dir.display(),
        running.startup.as_secs_f64() * 1000.0,
        if running.recovered {
            " (recovered after an unclean stop)"
        } else {
            ""
        },
    );
    match running.admin_addr {
        Some(a) => {
            println!("console http://{a}/ (metrics http://{a}/metrics, gregor ctl --admin {a})")
        }
        None => println!("console and admin endpoint off"),
    }
    let stop = running.stop_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    });
    running.wait().await;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
