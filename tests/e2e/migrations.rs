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

/// A file index recorded before V0210 (a json document) reads as it did; one recorded now
/// is stored compressed and reads back as the same JSON text; damaged stored bytes are a
/// clear error, not a panic or a different index.
#[tokio::test]
async fn file_indexes_recorded_before_and_after_v0210_read_back() -> Result<()> {
    let url = empty_database().await?;
    let store = Store::connect(&url, 2)?;
    store.migrate().await?;
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let mut ids = Vec::new();
    for tag in ["old", "new"] {
        let reference = customs_model::ImageRef::parse(&format!("registry.example/files/index:{tag}"))?;
        let added = store.add_image(customs_store::ADMIN_ACCOUNT, &reference, "linux/amd64", &serde_json::json!({}), false, None).await?;
        ids.push(added.image.id);
    }
    let old_text = r#"[{"path":"etc/passwd","kind":"file","mode":420,"uid":0,"gid":0,"size":10,"layer":0}]"#;
    c.execute("INSERT INTO image_files (image_id, files) VALUES ($1, $2::text::json)", &[&ids[0], &old_text]).await?;
    assert_eq!(store.image_files_text(ids[0]).await?.as_deref(), Some(old_text));

    let entries: Vec<serde_json::Value> =
        (0..3000).map(|i| serde_json::json!({ "path": format!("usr/share/file-{i}"), "kind": "file", "mode": 420, "size": i })).collect();
    let index = customs_store::FileIndex::encode(&entries)?;
    c.execute("INSERT INTO image_files (image_id, files_lz4) VALUES ($1, $2)", &[&ids[1], &index.bytes()]).await?;
    assert_eq!(store.image_files_text(ids[1]).await?, Some(serde_json::to_string(&entries)?));
    let both = c
        .execute("UPDATE image_files SET files = '[]' WHERE image_id = $1", &[&ids[1]])
        .await
        .expect_err("a row holds one document, not two");
    assert_eq!(both.as_db_error().and_then(|e| e.constraint()), Some("image_files_one_document"), "{both}");

    let damaged = &index.bytes()[..index.bytes().len() / 2];
    c.execute("UPDATE image_files SET files_lz4 = $2 WHERE image_id = $1", &[&ids[1], &damaged]).await?;
    let err = store.image_files_text(ids[1]).await.expect_err("damaged index");
    assert!(matches!(err, customs_store::StoreError::Corrupt(_)), "{err}");
    Ok(())
}
