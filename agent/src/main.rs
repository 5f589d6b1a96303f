//! `vantage`: the agent's command line entry point.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vantage_agent::admin_cli::TokenCommand;
use vantage_agent::config::{BenchCommand, Cli, Command, Config, ConfigCommand};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("VANTAGE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match Config::resolve(args) {
            Ok(config) => vantage_agent::serve(config, shutdown_signal()).await,
            Err(e) => Err(e),
        },
        Command::Bench(BenchCommand::Gpu(args)) => {
            vantage_agent::gpu::bench_cli(&args, shutdown_signal()).await
        }
        // These print their own report and choose their exit code (0, 1 or 2).
        Command::Check(args) => return vantage_agent::check::run(args).await,
        Command::Config(ConfigCommand::Check { file }) => {
            return vantage_agent::check::config_check(&file)
        }
        Command::Health(args) => return vantage_agent::admin_cli::health(&args).await,
        Command::Token(TokenCommand::Rotate(args)) => vantage_agent::admin_cli::rotate(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain: "opening …: permission denied".
            eprintln!("vantage: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM, for a graceful shutdown.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("Shutting down");
}
