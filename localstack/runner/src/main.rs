use anyhow::{Result, bail};
use customs_local::{App, Settings, provision};
use customs_runtime::{aws, tracing};

const USAGE: &str = "usage: customs-local <provision|migrate|serve>
  provision  create the bucket, queues + DLQs, topic and schedules on LocalStack (idempotent)
  migrate    apply migrations/ to DATABASE_URL under an advisory lock
  serve      serve the API on CUSTOMS_API_ADDR and run every function on its queue";

#[tokio::main]
async fn main() -> Result<()> {
    tracing::init();
    let cmd = std::env::args().nth(1).unwrap_or_default();
    let settings = Settings::from_env()?;
    match cmd.as_str() {
        "provision" => {
            provision::all(&aws::load().await, &settings.names).await?;
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
            tokio::select! {
                r = app.serve_api() => r?,
                () = runner.run() => {},
                _ = tokio::signal::ctrl_c() => ::tracing::info!("Stopping"),
            }
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}
