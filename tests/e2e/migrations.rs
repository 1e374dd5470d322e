//! Migrations apply once, repeatably, and concurrently without colliding.

use anyhow::Result;
use customs_store::{MIGRATIONS, Store};
use customs_tests::empty_database;

async fn applied(store_url: &str) -> Result<i64> {
    let (c, conn) = tokio_postgres::connect(store_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(c.query_one("SELECT count(*) FROM schema_migrations", &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn migrations_apply_twice_without_error() -> Result<()> {
    let url = empty_database().await?;
    let store = Store::connect(&url, 2)?;
    assert_eq!(store.migrate().await?.len(), MIGRATIONS.len());
    assert!(store.migrate().await?.is_empty());
    assert_eq!(applied(&url).await?, MIGRATIONS.len() as i64);
    Ok(())
}

#[tokio::test]
async fn concurrent_migrators_take_turns() -> Result<()> {
    let url = empty_database().await?;
    let (a, b) = (Store::connect(&url, 1)?, Store::connect(&url, 1)?);
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra?, rb?);
    assert_eq!(
        ra.len() + rb.len(),
        MIGRATIONS.len(),
        "each migration applied exactly once: {ra:?} {rb:?}"
    );
    assert_eq!(applied(&url).await?, MIGRATIONS.len() as i64);
    Ok(())
}
