//! The first vertical path: API → analyze queue → registry → database → API.

use anyhow::{Result, ensure};
use customs_contracts::AnalyzeImage;
use customs_tests::{Stack, basic_registry, registry};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The manifest digest and layer count the registry serves for `repo:tag`, read directly.
pub(crate) async fn registry_truth(repo: &str, tag: &str) -> Result<(String, usize)> {
    let body = reqwest::Client::new()
        .get(format!("http://{}/v2/{repo}/manifests/{tag}", registry()))
        .header("Accept", ACCEPT)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let digest = format!(
        "sha256:{}",
        Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let m: Value = serde_json::from_slice(&body)?;
    Ok((digest, m["layers"].as_array().map_or(0, Vec::len)))
}

pub(crate) async fn add(stack: &Stack, body: Value) -> Result<Value> {
    let resp = stack
        .request(Method::POST, "/v1/images")
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    ensure!(status == 200, "POST /v1/images {body} -> {status}: {v}");
    Ok(v[0].clone())
}

pub(crate) async fn by_tag(stack: &Stack, tag: &str) -> Result<Value> {
    let v: Value = stack
        .request(Method::GET, "/v1/images")
        .query(&[("fulltag", tag), ("history", "false")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v[0].clone())
}

#[tokio::test]
async fn an_added_tag_is_resolved_analyzed_and_served_in_anchores_shape() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    let added = add(&stack, json!({ "tag": tag })).await?;
    assert_eq!(added["analysis_status"], "not_analyzed");
    assert_eq!(added["image_detail"][0]["fulltag"], tag);

    stack.drain().await?;

    let (digest, layers) = registry_truth("customs/tiny", "latest").await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(img["imageDigest"], digest);
    assert_eq!(img["image_content"]["metadata"]["layer_count"], layers);
    assert_eq!(img["image_content"]["metadata"]["arch"], "amd64");
    assert!(
        img["analyzed_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{img}"
    );
    let detail = &img["image_detail"][0];
    assert_eq!(
        detail["fulldigest"],
        format!("{}/customs/tiny@{digest}", registry())
    );
    assert_eq!(detail["imageId"].as_str().map(str::len), Some(64));

    // By digest, raw and percent-encoded as anchore-cli sends it.
    for path in [
        format!("/v1/images/{digest}"),
        format!("/v1/images/{}", digest.replace(':', "%3A")),
        format!("/images/{digest}"),
    ] {
        let v: Value = stack
            .request(Method::GET, &path)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        assert_eq!(v[0]["imageDigest"], digest, "{path}");
    }
    let listed: Value = stack
        .request(Method::GET, "/v1/images")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // The whole-account list (rendered from its own lighter rows) and a page (rendered from
    // full records) print an image alike.
    let paged: Value = stack
        .request(Method::GET, "/v1/images?page=1&limit=10")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed, paged);

    // A repeat add returns the analysed record, queues nothing and writes nothing: no
    // row of the image's tag or subscriptions is updated or even locked (either would
    // make each repeat add wait for a commit to reach the disk).
    let (db, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let versions = "SELECT string_agg(xmin::text || '/' || xmax::text, ' ' ORDER BY k) FROM (
                      SELECT tag AS k, xmin, xmax FROM image_tags
                      UNION ALL SELECT subscription_type, xmin, xmax FROM subscriptions) r";
    let before: String = db.query_one(versions, &[]).await?.get(0);
    for _ in 0..3 {
        let again = add(&stack, json!({ "tag": tag })).await?;
        assert_eq!(again["analysis_status"], "analyzed");
        assert_eq!(again["imageDigest"], digest);
    }
    let after: String = db.query_one(versions, &[]).await?.get(0);
    assert_eq!(before, after, "a repeat add wrote to the tag or subscription rows");
    Ok(())
}

#[tokio::test]
async fn oci_and_docker_schema2_manifests_and_digest_pins_all_resolve() -> Result<()> {
    let stack = Stack::start().await?;
    let oci = format!("{}/customs/debian-app:latest", registry());
    let v2s2 = format!("{}/customs/debian-app:v2s2", registry());
    add(&stack, json!({ "tag": oci })).await?;
    add(&stack, json!({ "tag": v2s2 })).await?;
    let (digest, _) = registry_truth("customs/tiny", "latest").await?;
    let pinned = format!("{}/customs/tiny@{digest}", registry());
    add(
        &stack,
        json!({ "source": { "digest": { "pullstring": pinned } } }),
    )
    .await?;
    stack.drain().await?;

    let a = by_tag(&stack, &oci).await?;
    let b = by_tag(&stack, &v2s2).await?;
    assert_eq!(a["analysis_status"], "analyzed", "{a}");
    assert_eq!(b["analysis_status"], "analyzed", "{b}");
    assert_ne!(
        a["imageDigest"], b["imageDigest"],
        "the two manifest kinds hash differently"
    );
    assert_eq!(
        a["image_detail"][0]["imageId"], b["image_detail"][0]["imageId"],
        "same config, same image id"
    );
    let v: Value = stack
        .request(Method::GET, &format!("/v1/images/{digest}"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(v[0]["analysis_status"], "analyzed", "{v}");
    Ok(())
}

#[tokio::test]
async fn unreachable_registries_unknown_tags_and_refused_credentials_fail_with_the_reason()
-> Result<()> {
    let stack = Stack::start().await?;
    let cases = [
        ("127.0.0.1:9/customs/tiny:latest", "unreachable"),
        (
            &*format!("{}/customs/tiny:no-such-tag", registry()),
            "not found",
        ),
        (
            &*format!("{}/customs/no-such-repo:latest", registry()),
            "not found",
        ),
        (
            &*format!("{}/customs/tiny:latest", basic_registry()),
            "refused the credentials",
        ),
        (
            "169.254.169.254/latest/meta-data:latest",
            "network policy forbids",
        ),
    ];
    for (tag, _) in &cases {
        add(&stack, json!({ "tag": tag })).await?;
    }
    stack.drain().await?;
    for (tag, reason) in &cases {
        let img = by_tag(&stack, tag).await?;
        assert_eq!(img["analysis_status"], "analysis_failed", "{tag}: {img}");
        let err = img["analysis_error"].as_str().unwrap_or_default();
        assert!(
            err.contains(reason),
            "{tag}: expected {reason:?} in {err:?}"
        );
    }
    // A failed image is queued again on the next add.
    let again = add(&stack, json!({ "tag": cases[0].0 })).await?;
    assert_eq!(again["analysis_status"], "not_analyzed");
    stack.drain().await?;
    assert_eq!(
        by_tag(&stack, cases[0].0).await?["analysis_status"],
        "analysis_failed"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx_and_record_nothing() -> Result<()> {
    let stack = Stack::start().await?;
    for (body, needle) in [
        (json!({}), "must name an image"),
        (json!({ "tag": "Not A Ref" }), "whitespace"),
        (json!({ "tag": "UPPER/case:1" }), "invalid repository"),
        (json!({ "tag": "x/y@sha256:1234" }), "invalid digest"),
        (json!({ "tag": "x/y:1", "platform": "linux" }), "os/arch"),
    ] {
        let resp = stack
            .request(Method::POST, "/v1/images")
            .json(&body)
            .send()
            .await?;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await?;
        assert_eq!(v["httpcode"], 400);
        assert!(
            v["message"].as_str().unwrap_or_default().contains(needle),
            "{body}: {v}"
        );
    }
    let resp = stack
        .request(Method::POST, "/v1/images")
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    let listed: Value = stack
        .request(Method::GET, "/v1/images")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed, json!([]));
    Ok(())
}

#[tokio::test]
async fn the_api_speaks_anchores_transport() -> Result<()> {
    let stack = Stack::start().await?;
    for path in ["/v1", "/v1/", "/"] {
        let v: Value = stack
            .http
            .get(stack.url(path))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        assert_eq!(v, json!("v1"), "{path}");
    }
    for path in ["/swagger.json", "/v1/swagger.json"] {
        let v: Value = stack
            .http
            .get(stack.url(path))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        assert_eq!(v["info"]["version"], "0.1.20");
    }
    let resp = stack.http.get(stack.url("/v1/images")).send().await?;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    let resp = stack
        .http
        .get(stack.url("/v1/images"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    // Empty body with a JSON content type, Python booleans, the old GET-with-body lookup.
    let resp = stack
        .request(Method::GET, "/v1/images?history=False")
        .header("Content-Type", "application/json")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let resp = stack
        .request(Method::GET, "/v1/images")
        .json(&json!({"tag": "127.0.0.1:5000/x/y:z"}))
        .send()
        .await?;
    assert_eq!(resp.json::<Value>().await?, json!([]));
    let resp = stack
        .request(Method::GET, "/v1/images/sha256:0000")
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await?["httpcode"], 404);
    Ok(())
}

#[tokio::test]
async fn redelivered_analysis_messages_change_nothing() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let before = by_tag(&stack, &tag).await?;
    // SQS delivers at least once: send the same message again, twice.
    let id = stack
        .app
        .store
        .list_images("admin", &Default::default())
        .await?[0]
        .id;
    for _ in 0..2 {
        stack
            .app
            .queues
            .send(&AnalyzeImage {
                account: "admin".into(),
                image_id: id,
            })
            .await?;
    }
    stack.drain().await?;
    let after = by_tag(&stack, &tag).await?;
    assert_eq!(before["record_version"], after["record_version"]);
    assert_eq!(before["analyzed_at"], after["analyzed_at"]);
    Ok(())
}

#[tokio::test]
async fn images_are_deleted_as_anchore_does() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let digest = by_tag(&stack, &tag).await?["imageDigest"].as_str().unwrap_or_default().to_owned();
    let v: Value = stack.request(Method::DELETE, &format!("/v1/images/{digest}?force=False")).send().await?.json().await?;
    assert_eq!(v["status"], "deleting", "{v}");
    let resp = stack.request(Method::GET, &format!("/v1/images/{digest}")).send().await?;
    assert_eq!(resp.status(), 404);
    let v: Value = stack.request(Method::DELETE, &format!("/v1/images/{digest}")).send().await?.json().await?;
    assert_eq!(v["status"], "not_found");
    // Deleting the record never leaves a stray analysis behind: re-adding analyses afresh.
    let again = add(&stack, json!({ "tag": tag })).await?;
    assert_eq!(again["analysis_status"], "not_analyzed");
    stack.drain().await?;
    assert_eq!(by_tag(&stack, &tag).await?["analysis_status"], "analyzed");
    Ok(())
}

/// Adds of one tag at once, first while it is new and again once it is analysed, make one
/// record with one tag; the repeat adds are answered without the lock that serialises
/// adds of a reference, and still agree.
#[tokio::test]
async fn concurrent_adds_of_one_tag_make_one_record() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    let adds = |n| futures::future::try_join_all((0..n).map(|_| add(&stack, json!({ "tag": tag }))));
    let first = adds(8).await?;
    let digest = &first[0]["imageDigest"];
    ensure!(first.iter().all(|a| &a["imageDigest"] == digest), "adds disagree: {first:?}");
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    let again = adds(8).await?;
    for a in &again {
        assert_eq!(a["analysis_status"], "analyzed");
        assert_eq!(&a["imageDigest"], digest);
        assert_eq!(a["image_detail"][0]["fulltag"], tag);
    }
    let (db, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let images: i64 = db.query_one("SELECT count(*) FROM images", &[]).await?.get(0);
    let tags: i64 = db.query_one("SELECT count(*) FROM image_tags", &[]).await?.get(0);
    assert_eq!((images, tags), (1, 1), "one image with one tag");
    Ok(())
}

/// The subscriptions an add creates, made by many adds of fresh tags at once (each on its
/// own connection): none fails on a key its insert did not name (the race once answered a
/// concurrent add with 500), each tag gets its four subscriptions once, and a later add
/// that asks for tag updates switches them on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_create_each_subscription_once() -> Result<()> {
    let stack = Stack::start().await?;
    let store = &stack.app.store;
    for round in 0..20 {
        let tag = format!("{}/customs/race-{round}:latest", registry());
        futures::future::try_join_all((0..8).map(|_| store.ensure_tag_subscriptions("admin", &tag, false))).await?;
        let subs = store.subscriptions("admin", &customs_store::SubscriptionFilter { key: Some(tag.clone()), ..Default::default() }).await?;
        assert_eq!(subs.len(), 4, "{tag}: {subs:?}");
        assert!(subs.iter().any(|s| s.subscription_type == "tag_update" && !s.active));
        futures::future::try_join_all((0..8).map(|_| store.ensure_tag_subscriptions("admin", &tag, true))).await?;
        let subs = store.subscriptions("admin", &customs_store::SubscriptionFilter { key: Some(tag.clone()), ..Default::default() }).await?;
        assert_eq!(subs.len(), 4, "{tag}: {subs:?}");
        assert!(subs.iter().any(|s| s.subscription_type == "tag_update" && s.active), "{tag}: tag updates switched on");
    }
    Ok(())
}

/// The whole-account list pairs two streams, images and tags, both in list order
/// (created_at DESC, id). Images sharing a creation time, images with no tag or with
/// several, tags of images a filter leaves out, and another account's images in between:
/// the list and a page of the same filter (full records, tags joined by id) agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_pairs_each_image_with_its_own_tags() -> Result<()> {
    let stack = Stack::start().await?;
    stack.add_account("other", "other-user", "other-pass-123").await?;
    let (client, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "INSERT INTO images (id, account, source_ref, image_digest, analysis_status, created_at, arch, os)
             SELECT gen_random_uuid(), CASE WHEN i % 7 = 0 THEN 'other' ELSE 'admin' END,
                    '127.0.0.1:5000/pair/app:' || i, 'sha256:' || lpad(to_hex(i), 64, '0'),
                    CASE WHEN i % 3 = 0 THEN 'analysis_failed' ELSE 'analyzed' END,
                    timestamptz '2026-11-01 00:00:00Z' - (i % 5) * interval '1 second', 'amd64', 'linux'
             FROM generate_series(1, 300) AS i;
             -- 0, 1, 2 or 3 tags per image, detected at different times.
             INSERT INTO image_tags (image_id, account, registry, repo, tag, tag_detected_at)
             SELECT id, account, '127.0.0.1:5000', 'pair/app', 't' || n || '-' || split_part(source_ref, ':', 3),
                    timestamptz '2026-11-02 00:00:00Z' + n * interval '1 minute'
             FROM images, generate_series(1, 3) AS n
             WHERE n <= (split_part(source_ref, ':', 3)::int % 4);
             -- The oldest images, so the last of the list, have no tags: the tags run out
             -- before the images do.
             INSERT INTO images (id, account, source_ref, image_digest, analysis_status, created_at, arch, os)
             SELECT gen_random_uuid(), 'admin', '127.0.0.1:5000/pair/untagged:' || i,
                    'sha256:' || lpad(to_hex(1000 + i), 64, '0'),
                    CASE WHEN i = 1 THEN 'analysis_failed' ELSE 'analyzed' END,
                    timestamptz '2026-10-01 00:00:00Z' - i * interval '1 second', 'amd64', 'linux'
             FROM generate_series(1, 3) AS i",
        )
        .await?;
    // The trigger of V0160 gave each tag its image's creation time.
    let stale: i64 = client
        .query_one(
            "SELECT count(*) FROM image_tags t JOIN images i ON i.id = t.image_id WHERE t.image_created_at <> i.created_at",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(stale, 0);
    for filter in ["", "?analysis_status=analyzed", "?analysis_status=analysis_failed"] {
        let list = stack.request(Method::GET, &format!("/v1/images{filter}")).send().await?;
        ensure!(list.status() == 200, "GET /v1/images{filter}: {}", list.status());
        let list: Value = list.json().await?;
        let sep = if filter.is_empty() { "?" } else { "&" };
        let page: Value = stack
            .request(Method::GET, &format!("/v1/images{filter}{sep}page=1&limit=1000"))
            .send()
            .await?
            .json()
            .await?;
        let n = list.as_array().map_or(0, Vec::len);
        ensure!(n > 50, "GET /v1/images{filter} listed {n} images");
        assert!(list == page, "GET /v1/images{filter}: the list and a page disagree");
        let tags: Vec<usize> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["image_detail"].as_array().map_or(0, Vec::len))
            .collect();
        for k in 0..=3 {
            ensure!(tags.contains(&k), "GET /v1/images{filter}: no image with {k} tags");
        }
        ensure!(
            list.as_array().into_iter().flatten().all(|i| i["userId"] == "admin"),
            "another account's image listed"
        );
    }
    Ok(())
}
