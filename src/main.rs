//! The `gregor` binary: CLI -> Config, tracing, run until SIGINT/SIGTERM. No logic here.

use clap::Parser;
use gregor::config::{Cli, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = Config::from_cli(&cli)?;
    let data_dir = config.data_dir.clone();
    let mut running = gregor::node::start(config).await?;
    if let Some(path) = &cli.port_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", running.addr))?;
        std::fs::rename(&tmp, path)?;
    }
    println!(
        "gregor listening on {} (advertised as {}:{}), data in {}, ready in {:.1} ms{}",
        running.addr,
        running.node.info().host,
        running.node.info().port,
        data_dir.display(),
        running.startup.as_secs_f64() * 1000.0,
        if running.recovered {
            " (recovered after an unclean stop)"
        } else {
            ""
        },
    );
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
