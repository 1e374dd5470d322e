use anyhow::{Result, bail};
use customs_local::{App, Settings, provision};
use customs_runtime::{aws, tracing};

const USAGE: &str = "usage: customs-local <provision|migrate|serve|version-cmp FORMAT A B|version-match FORMAT VERSION CONSTRAINT>
  provision    create the bucket, queues + DLQs, topic and schedules on LocalStack (idempotent)
  migrate      apply migrations/ to DATABASE_URL under an advisory lock
  serve        serve the API on CUSTOMS_API_ADDR and run every function on its queue
  version-cmp  compare two versions as FORMAT's ecosystem does (deb, rpm, apk, semver, go,
               pep440, maven, gem, nuget, composer); prints -1, 0 or 1
  version-match  whether VERSION satisfies CONSTRAINT in FORMAT's syntax (gem `~> 1.2, >= 1.2.3`,
               pep440 `~=1.2,!=1.2.5`, composer `^1.2 || ~2.0`); prints true or false";

#[tokio::main]
async fn main() -> Result<()> {
    tracing::init();
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).cloned().unwrap_or_default();
    if cmd == "version-cmp" {
        let [_, _, format, a, b] = args.as_slice() else { bail!("{USAGE}") };
        let format: customs_version::Format = format.parse()?;
        let order = format.compare(a, b)?;
        println!("{}", order as i8);
        return Ok(());
    }
    if cmd == "version-match" {
        let [_, _, format, version, constraint] = args.as_slice() else { bail!("{USAGE}") };
        let format: customs_version::Format = format.parse()?;
        let constraint = customs_version::Constraint::parse(format, constraint)?;
        println!("{}", constraint.matches_str(version)?);
        return Ok(());
    }
    let settings = Settings::from_env()?;
    match cmd.as_str() {
        "provision" => {
            provision::all(&aws::load().await, &settings.names, true).await?;
        }
        "migrate" => {
            let store = customs_store::Store::connect(&settings.database_url, 1)?;
            let applied = store.migrate().await?;
            ::tracing::info!(?applied, "Migrations up to date");
        }
        "serve" => {
            let app = App::new(
                aws::load().await,
                settings,
                customs_api::AuthConfig::from_env()?,
            )
            .await?;
            let runner = app.runner().await?;
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let polling = tokio::spawn(async move { runner.run_until(stop_rx).await });
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = app.serve_api() => r?,
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            ::tracing::info!("Stopping: finishing the polls in flight");
            let _ = stop_tx.send(true);
            let _ = polling.await;
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}
